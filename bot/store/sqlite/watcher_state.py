"""The watcher's state in SQLite: small named values (watermark, health), the coverage of
its ingest, and its lease, backed by an OS lock beside the file."""

import sqlite3
from datetime import datetime, timedelta

import sqlite_utils
from sqlite_utils.db import NotFoundError

from bot.errors import StoreError
from bot.store import leases
from bot.store.encoding import (
    COVERAGE,
    READING_BACK,
    coverage_from_values,
    coverage_values,
)
from bot.store.leases import LeaseRow, Lock
from bot.store.sqlite.connections import Connections
from bot.store.sqlite.faults import database_problem
from bot.store.sqlite.lock import ProcessLock
from bot.store.values import Coverage


class SqliteWatcherState:
    def __init__(self, connections: Connections, lock: ProcessLock) -> None:
        self._db = connections
        self._lock = lock

    async def get(self, name: str) -> str | None:
        return await self._db.read(_get, name)

    async def put(self, name: str, value: str) -> None:
        await self._db.write(_put, name, value)

    async def coverage(self) -> Coverage | None:
        return coverage_from_values(*await self._db.read(_get_many, (COVERAGE, READING_BACK)))

    async def set_coverage(self, coverage: Coverage) -> None:
        await self._db.write(_put_many, coverage_values(coverage))

    async def take_lease(self, owner: str, now: datetime, ttl: timedelta) -> int | None:
        return await self._db.write(self._take_lease, owner, now, ttl)

    async def release_lease(self, owner: str) -> None:
        if await self._db.write(_release_lease, owner):
            self._lock.release()

    def _take_lease(
        self, db: sqlite_utils.Database, owner: str, now: datetime, ttl: timedelta
    ) -> int | None:
        # The process also holds an OS lock beside the file (lock.py): one that gets it
        # knows the lease's holder is gone, and takes over at once instead of waiting out
        # a dead holder's lease. One that finds it busy may still take a lease that ran
        # out (its holder stuck): the new token fences the old holder's writes off.
        try:
            lock = self._lock.acquire()
        except OSError as exc:
            raise StoreError(f"cannot lock {self._lock.path}: {exc}") from exc
        try:
            term = _take_lease(db, owner, now, ttl, lock)
            if term is None and lock in ("held", "taken"):
                self._lock.release()  # another holds the lease: the lock is no use here
            return term
        except BaseException as exc:
            if lock == "taken":
                self._lock.release()  # so that the next try knows the holder is gone
            if isinstance(exc, sqlite3.Error):  # "database is locked", at length; a full disk
                raise StoreError(database_problem(exc)) from exc
            raise


def _get(db: sqlite_utils.Database, name: str) -> str | None:
    try:
        return str(db.table("poll_state").get(name)["value"])
    except NotFoundError:
        return None


def _get_many(db: sqlite_utils.Database, names: tuple[str, ...]) -> list[str | None]:
    with db.atomic():  # one snapshot
        return [_get(db, name) for name in names]


def _put_many(db: sqlite_utils.Database, values: dict[str, str | None]) -> None:
    """Each value under its name, None deleting it, in one transaction."""
    with db.atomic():
        for name, value in values.items():
            if value is None:
                db.execute("delete from poll_state where name = ?", [name])
            else:
                _put(db, name, value)


def _put(db: sqlite_utils.Database, name: str, value: str) -> None:
    with db.atomic():
        db.table("poll_state").upsert({"name": name, "value": value}, pk="name")


def _lease(db: sqlite_utils.Database) -> LeaseRow:
    rows = db.execute("select value from poll_state where name = 'lease'").fetchall()
    return LeaseRow.parse(rows[0][0] if rows else None)


def fenced(db: sqlite_utils.Database, fence: int | None) -> LeaseRow:
    """The lease as it stands, after checking a write fenced with `fence` may go ahead;
    call it inside a write."""
    return leases.fenced(_lease(db), fence)


def _take_lease(
    db: sqlite_utils.Database, owner: str, now: datetime, ttl: timedelta, lock: Lock
) -> int | None:
    # The write holds SQLite's write lock from its first statement (connections.py), so
    # two processes cannot both read the lease free and both take it.
    lease = leases.taken(_lease(db), owner, now, ttl, lock)
    if lease is None:
        return None
    db.table("poll_state").upsert({"name": "lease", "value": lease.text()}, pk="name")
    return lease.token


def _release_lease(db: sqlite_utils.Database, owner: str) -> bool:
    with db.atomic():
        lease = leases.released(_lease(db), owner)
        if lease is None:
            return False
        db.table("poll_state").upsert({"name": "lease", "value": lease.text()}, pk="name")
    return True
