"""The watcher's state in PostgreSQL: small named values (watermark, health), the coverage
of its ingest, and its lease, backed by an advisory lock (`lock`). The values are kept as
the SQLite store keeps them, so `db copy` moves them as they are."""

import json
from datetime import UTC, datetime, timedelta

import psycopg

from bot.errors import StoreError
from bot.store.encoding import (
    COVERAGE,
    READING_BACK,
    coverage_from_values,
    coverage_values,
)
from bot.store.postgresql.connections import Connections, Cursor
from bot.store.postgresql.faults import database_problem
from bot.store.postgresql.lock import AdvisoryLock
from bot.store.repositories import Coverage

LEASE = "lease"


class PostgresWatcherState:
    def __init__(self, connections: Connections, lock: AdvisoryLock) -> None:
        self._db = connections
        self._lock = lock

    async def get(self, name: str) -> str | None:
        return (await self._db.read(_get_many, (name,)))[0]

    async def put(self, name: str, value: str) -> None:
        await self._db.write(_put_many, {name: value})

    async def coverage(self) -> Coverage | None:
        return coverage_from_values(*await self._db.read(_get_many, (COVERAGE, READING_BACK)))

    async def set_coverage(self, coverage: Coverage) -> None:
        await self._db.write(_put_many, coverage_values(coverage))

    async def take_lease(self, owner: str, now: datetime, ttl: timedelta) -> bool:
        try:
            lock = await self._lock.acquire()
        except psycopg.Error as exc:
            raise StoreError(database_problem(exc)) from exc
        if lock == "busy":
            return False
        try:
            return await self._db.write(_take_lease, owner, now, ttl, lock == "taken")
        except BaseException:
            if lock == "taken":
                await self._lock.release()  # so that the next try knows the holder is gone
            raise

    async def holds_lease(self, owner: str, now: datetime) -> bool:
        return await self._db.read(_holds_lease, owner, now)

    async def release_lease(self, owner: str) -> None:
        if await self._db.write(_release_lease, owner):
            await self._lock.release()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


async def _get_many(cursor: Cursor, names: tuple[str, ...]) -> list[str | None]:
    await cursor.execute("select name, value from poll_state where name = any(%s)", [list(names)])
    found: dict[str, str | None] = dict(await cursor.fetchall())
    return [found.get(name) for name in names]


async def _put_many(cursor: Cursor, values: dict[str, str | None]) -> None:
    """Each value under its name, None deleting it, in one transaction."""
    for name, value in values.items():
        if value is None:
            await cursor.execute("delete from poll_state where name = %s", [name])
        else:
            await cursor.execute(
                "insert into poll_state (name, value) values (%s, %s) "
                "on conflict (name) do update set value = excluded.value",
                [name, value],
            )


async def _lease(cursor: Cursor, lock: bool) -> tuple[str, datetime] | None:
    await cursor.execute(
        "select value from poll_state where name = %s" + (" for update" if lock else ""), [LEASE]
    )
    row = await cursor.fetchone()
    if not row or not row[0]:
        return None
    holder, until = json.loads(str(row[0]))[:2]
    return holder, datetime.fromisoformat(until)


async def _take_lease(
    cursor: Cursor, owner: str, now: datetime, ttl: timedelta, holder_gone: bool
) -> bool:
    # The row is locked as it is read: two replicas cannot both find it free and take it.
    await cursor.execute(
        "insert into poll_state (name, value) values (%s, null) on conflict (name) do nothing",
        [LEASE],
    )
    held = await _lease(cursor, lock=True)
    if held is not None:
        holder, until = held
        if holder != owner and until > now and not holder_gone:
            return False
    await _put_many(cursor, {LEASE: json.dumps([owner, _iso(now + ttl)])})
    return True


async def _holds_lease(cursor: Cursor, owner: str, now: datetime) -> bool:
    held = await _lease(cursor, lock=False)
    return held is not None and held[0] == owner and held[1] > now


async def _release_lease(cursor: Cursor, owner: str) -> bool:
    held = await _lease(cursor, lock=True)
    if held is None or held[0] != owner:
        return False
    await cursor.execute("delete from poll_state where name = %s", [LEASE])
    return True
