"""The watcher's state in SQLite: small named values (watermark, health), the coverage of
its ingest, and its lease, backed by an OS lock beside the file."""

import json
import sqlite3
from datetime import datetime, timedelta

import sqlite_utils
from sqlite_utils.db import NotFoundError

from bot.errors import StoreError
from bot.store.repositories import Coverage, ReadingBack
from bot.store.sqlite.connections import Connections
from bot.store.sqlite.faults import database_problem
from bot.store.sqlite.lock import ProcessLock
from bot.store.sqlite.migrations import iso

COVERAGE = "ingest_coverage"  # the span the watcher has read every message of
READING_BACK = "ingest_reading_back"  # where an ingest that stopped short goes on


class SqliteWatcherState:
    def __init__(self, connections: Connections, lock: ProcessLock) -> None:
        self._db = connections
        self._lock = lock

    async def get(self, name: str) -> str | None:
        return await self._db.read(_get, name)

    async def put(self, name: str, value: str) -> None:
        await self._db.write(_put, name, value)

    async def coverage(self) -> Coverage | None:
        text, back = await self._db.read(_get_many, (COVERAGE, READING_BACK))
        if text is None:
            return None
        since, through, interval, *_ = json.loads(text)  # more, from a development build
        reading_back = None
        if back is not None:
            page, down_to, joins = json.loads(back)
            reading_back = ReadingBack(
                page, datetime.fromisoformat(down_to), datetime.fromisoformat(joins)
            )
        return Coverage(
            datetime.fromisoformat(since), datetime.fromisoformat(through), interval, reading_back
        )

    async def set_coverage(self, coverage: Coverage) -> None:
        # The reading back under a name of its own: a version that knows nothing of it
        # still reads the coverage (which then claims no more than is held).
        value = [iso(coverage.since), iso(coverage.through), coverage.interval_seconds]
        back = coverage.reading_back
        await self._db.write(
            _put_many,
            {
                COVERAGE: json.dumps(value),
                READING_BACK: None
                if back is None
                else json.dumps([back.next_page, iso(back.down_to), iso(back.joins)]),
            },
        )

    async def take_lease(self, owner: str, now: datetime, ttl: timedelta) -> bool:
        return await self._db.write(self._take_lease, owner, now, ttl)

    async def holds_lease(self, owner: str, now: datetime) -> bool:
        return await self._db.read(_holds_lease, owner, now)

    async def release_lease(self, owner: str) -> None:
        if await self._db.write(_release_lease, owner):
            self._lock.release()

    def _take_lease(
        self, db: sqlite_utils.Database, owner: str, now: datetime, ttl: timedelta
    ) -> bool:
        # The process also holds an OS lock beside the file (lock.py): one that gets it
        # knows the lease's holder is gone, and takes over at once instead of waiting out
        # a dead holder's lease.
        try:
            lock = self._lock.acquire()
        except OSError as exc:
            raise StoreError(f"cannot lock {self._lock.path}: {exc}") from exc
        if lock == "busy":
            return False
        try:
            return _take_lease(db, owner, now, ttl, holder_gone=lock == "taken")
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


def _take_lease(
    db: sqlite_utils.Database, owner: str, now: datetime, ttl: timedelta, holder_gone: bool
) -> bool:
    # The write holds SQLite's write lock from its first statement (connections.py), so
    # two processes cannot both read the lease free and both take it.
    rows = db.execute("select value from poll_state where name = 'lease'").fetchall()
    if rows and rows[0][0]:
        holder, until = json.loads(rows[0][0])
        if holder != owner and datetime.fromisoformat(until) > now and not holder_gone:
            return False
    lease = json.dumps([owner, iso(now + ttl)])
    db.table("poll_state").upsert({"name": "lease", "value": lease}, pk="name")
    return True


def _holds_lease(db: sqlite_utils.Database, owner: str, now: datetime) -> bool:
    rows = db.execute("select value from poll_state where name = 'lease'").fetchall()
    if not rows or not rows[0][0]:
        return False
    holder, until = json.loads(rows[0][0])
    return bool(holder == owner and datetime.fromisoformat(until) > now)


def _release_lease(db: sqlite_utils.Database, owner: str) -> bool:
    with db.atomic():
        released = db.execute(
            "delete from poll_state where name = 'lease' and json_extract(value, '$[0]') = ?",
            [owner],
        ).rowcount
    return bool(released)
