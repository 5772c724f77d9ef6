"""`db`: the database's own commands. `migrate` brings the schema up to date (what a
platform's release phase runs before new processes start); `copy` moves a SQLite file's
state into the PostgreSQL database DATABASE_URL names, so switching loses nothing."""

import argparse
import asyncio
from pathlib import Path

from bot import settings
from bot.cli.output import settings_failure
from bot.store.backends import described, store_for


def run(args: argparse.Namespace, config: settings.Settings) -> int:
    if args.action == "migrate":
        return asyncio.run(_migrate(config))
    return asyncio.run(_copy(args.source or Path(config.database_path), config))


async def _migrate(config: settings.Settings) -> int:
    store = store_for(config.database_url, config.database_path)
    try:
        ran = await store.open()
    finally:
        await store.aclose()
    where = described(config.database_url, config.database_path)
    if ran:
        print(f"{where}: applied {len(ran)} migrations ({', '.join(ran)}).")
    else:
        print(f"{where}: up to date, nothing to apply.")
    return 0


async def _copy(source: Path, config: settings.Settings) -> int:
    if not config.database_url:
        return settings_failure(["`db copy` copies into PostgreSQL: set DATABASE_URL"])
    from bot.store.copying import copy_sqlite_to

    copied = await copy_sqlite_to(source, config.database_url)
    where = described(config.database_url, config.database_path)
    rows = ", ".join(f"{n} {table}" for table, n in copied.items())
    print(f"Copied {source} into {where}: {rows}.")
    return 0
