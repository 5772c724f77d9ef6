"""Loading: rows from elsewhere (`db copy`) into an empty PostgreSQL store, by COPY, in
one transaction; values may be text the server reads into the column's type."""

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from bot.errors import StoreError
from bot.store.postgresql import PostgresStore
from bot.store.postgresql.connections import Cursor

Batches = Iterable[list[tuple[Any, ...]]]
_IDS = ("incidents", "outbox")  # tables whose ids are copied: their next id follows them


async def load_all(
    store: PostgresStore, tables: Sequence[tuple[str, tuple[str, ...], Batches]]
) -> dict[str, int]:
    return await store.connections.write(_load_all, tables)


async def _load_all(
    cursor: Cursor, tables: Sequence[tuple[str, tuple[str, ...], Batches]]
) -> dict[str, int]:
    for table, _, _ in tables:
        await cursor.execute(f"select exists (select 1 from {table})")
        row = await cursor.fetchone()
        if row and row[0]:
            raise StoreError(
                f"The PostgreSQL database already holds the bot's state ({table} has rows): "
                "`db copy` only fills an empty one, so that nothing is mixed or lost (a "
                "dictionary imported there already: import it again after the copy)."
            )
    copied = {}
    for table, columns, batches in tables:
        names = ", ".join(f'"{c}"' for c in columns)
        copied[table] = 0
        # A COPY per batch: each is one statement, well inside the statement timeout.
        rows = iter(batches)
        # Read off the loop: the source is a file, read by a synchronous driver.
        while (batch := await asyncio.to_thread(next, rows, None)) is not None:
            async with cursor.copy(f"copy {table} ({names}) from stdin") as copy:
                for row in batch:
                    await copy.write_row(row)
            copied[table] += len(batch)
    for table, _, _ in tables:  # the planner's statistics, for what it has not seen yet
        await cursor.execute(f"analyze {table}")
    for table in _IDS:
        await cursor.execute(
            f"select setval(pg_get_serial_sequence('{table}', 'id'), "
            f"coalesce((select max(id) from {table}), 0) + 1, false)"
        )
    return copied
