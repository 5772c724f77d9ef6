"""Loading: rows from elsewhere (`db copy`) into an empty PostgreSQL store, by COPY, in
one transaction; values may be text the server reads into the column's type."""

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.errors import StoreError
from bot.store.postgresql import PostgresStore
from bot.store.postgresql.connections import Cursor

_IDS = (
    "incidents",
    "outbox",
    "segment_mutes",
)  # tables whose ids are copied: their next id follows them


@dataclass(frozen=True)
class Rows:
    """One table's rows to load: `columns` of each, a batch at a time."""

    table: str
    columns: tuple[str, ...]
    batches: Iterable[list[tuple[Any, ...]]]


async def load_all(store: PostgresStore, tables: Sequence[Rows]) -> dict[str, int]:
    return await store.connections.write(_load_all, tables)


async def _load_all(cursor: Cursor, tables: Sequence[Rows]) -> dict[str, int]:
    for table in (rows.table for rows in tables):
        await cursor.execute(f"select exists (select 1 from {table})")
        row = await cursor.fetchone()
        if row and row[0]:
            raise StoreError(
                f"The PostgreSQL database already holds the bot's state ({table} has rows): "
                "`db copy` only fills an empty one, so that nothing is mixed or lost (a "
                "dictionary imported there already: import it again after the copy)."
            )
    copied = {}
    for rows in tables:
        names = ", ".join(f'"{c}"' for c in rows.columns)
        copied[rows.table] = 0
        # A COPY per batch: each is one statement, well inside the statement timeout.
        batches = iter(rows.batches)
        # Read off the loop: the source is a file, read by a synchronous driver.
        while (batch := await asyncio.to_thread(next, batches, None)) is not None:
            async with cursor.copy(f"copy {rows.table} ({names}) from stdin") as copy:
                for row in batch:
                    await copy.write_row(row)
            copied[rows.table] += len(batch)
    for rows in tables:  # the planner's statistics, for what it has not seen yet
        await cursor.execute(f"analyze {rows.table}")
    for table in _IDS:
        await cursor.execute(
            f"select setval(pg_get_serial_sequence('{table}', 'id'), "
            f"coalesce((select max(id) from {table}), 0) + 1, false)"
        )
    return copied
