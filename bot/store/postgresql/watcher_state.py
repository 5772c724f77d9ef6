"""The watcher's state in PostgreSQL: small named values (watermark, health), the coverage
of its ingest, and its lease, backed by an advisory lock (`lock`). The values are kept as
the SQLite store keeps them, so `db copy` moves them as they are."""

from datetime import datetime, timedelta

import psycopg

from bot.errors import StoreError
from bot.store import leases
from bot.store.encoding import (
    COVERAGE,
    READING_BACK,
    coverage_from_values,
    coverage_values,
)
from bot.store.leases import LeaseRow, Lock
from bot.store.postgresql.connections import Connections, Cursor
from bot.store.postgresql.faults import database_problem
from bot.store.postgresql.lock import AdvisoryLock
from bot.store.values import Coverage

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

    async def take_lease(self, owner: str, now: datetime, ttl: timedelta) -> int | None:
        try:
            lock = await self._lock.acquire()
        except psycopg.Error as exc:
            if isinstance(exc, psycopg.OperationalError):
                self._db.mark_away()
            raise StoreError(database_problem(exc)) from exc
        # A busy lock (a holder's session alive) still lets a lease that ran out be taken:
        # its holder may be stuck, or cut off while the server keeps its session; the new
        # token fences its writes off.
        try:
            term = await self._db.write(_take_lease, owner, now, ttl, lock)
            if term is None and lock in ("held", "taken"):
                await self._lock.release()  # another holds the lease: let the lock go
            return term
        except BaseException:
            if lock == "taken":
                await self._lock.release()  # so that the next try knows the holder is gone
            raise

    async def release_lease(self, owner: str) -> None:
        if await self._db.write(_release_lease, owner):
            await self._lock.release()


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


async def _lease(cursor: Cursor, lock: str = "") -> LeaseRow:
    """The lease row, locked `for update` or `for share` when asked."""
    await cursor.execute(
        "select value from poll_state where name = %s" + (f" for {lock}" if lock else ""), [LEASE]
    )
    row = await cursor.fetchone()
    return LeaseRow.parse(row[0] if row else None)


async def fenced(cursor: Cursor, fence: int | None) -> LeaseRow:
    """The lease as it stands, after checking a write fenced with `fence` may go ahead.
    The row stays share-locked to the end of the caller's transaction, so the lease
    cannot change hands before the write commits."""
    return leases.fenced(await _lease(cursor, "share"), fence)


async def _take_lease(
    cursor: Cursor, owner: str, now: datetime, ttl: timedelta, lock: Lock
) -> int | None:
    # The row is locked as it is read: two replicas cannot both find it free and take it.
    await cursor.execute(
        "insert into poll_state (name, value) values (%s, null) on conflict (name) do nothing",
        [LEASE],
    )
    lease = leases.taken(await _lease(cursor, "update"), owner, now, ttl, lock)
    if lease is None:
        return None
    await _put_many(cursor, {LEASE: lease.text()})
    return lease.token


async def _release_lease(cursor: Cursor, owner: str) -> bool:
    lease = leases.released(await _lease(cursor, "update"), owner)
    if lease is None:
        return False
    await _put_many(cursor, {LEASE: lease.text()})
    return True
