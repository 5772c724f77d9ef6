"""What the repository suite needs to see of either backend beyond the protocols: a row
count, the rollup's rows, a second store on the same database. Not a test module."""

from datetime import UTC, datetime
from typing import Any

from bot.store import Store
from bot.store.postgresql import PostgresStore
from bot.store.sqlite import SqliteStore
from tests.support import query


async def rows(store: Store, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """`sql` read on a connection of its own (`?` placeholders on both backends)."""
    if isinstance(store, SqliteStore):
        return [tuple(row) for row in query(store.path, sql, params)]
    assert isinstance(store, PostgresStore)

    async def read(cursor: Any) -> list[tuple[Any, ...]]:
        await cursor.execute(sql.replace("?", "%s"), params)
        return list(await cursor.fetchall())

    return await store.connections.read(read)


async def count(store: Store, table: str) -> int:
    [(n,)] = await rows(store, f"select count(*) from {table}")
    return int(n)


def hour_key(hour: str | datetime) -> str:
    """An hour of the rollup as SQLite keys it (2026-11-23T10), whichever backend held it."""
    if isinstance(hour, datetime):
        return hour.astimezone(UTC).strftime("%Y-%m-%dT%H")
    return hour


RollupKey = tuple[str, str, str, int]  # hour, kind, segment, error_code


async def rollup(store: Store) -> dict[RollupKey, int]:
    """The rollup's non-zero rows: (hour, kind, segment, code) to count."""
    found = await rows(store, "select hour, kind, segment, error_code, messages from message_hours")
    return {(hour_key(hour), kind, segment, code): n for hour, kind, segment, code, n in found if n}


async def counted_hours(store: Store) -> set[str]:
    """The hours the rollup has counted (its mark: the account's row of final messages)."""
    found = await rows(
        store, "select hour from message_hours where kind = 'account' and error_code = -1"
    )
    return {hour_key(hour) for (hour,) in found}


async def another(store: Store) -> Store:
    """A second store on the same database, as another process would open it."""
    if isinstance(store, SqliteStore):
        return SqliteStore(store.path)
    assert isinstance(store, PostgresStore)
    second = PostgresStore(store.connections.url)
    await second.open()
    return second
