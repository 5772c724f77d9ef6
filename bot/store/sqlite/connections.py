"""Connections: one SQLite file, served off the event loop.

Writes run one at a time on a writer thread with its own connection, so a transaction
never interleaves with another. Reads run on a few reader threads, each with its own
read-only connection, which WAL lets go on while anyone, in this process or another,
writes. The event loop only awaits: another process's write lock or a slow disk delays
the call waiting on it, never an ack or /healthz. A database in memory is one connection,
so there everything runs on the writer.
"""

import asyncio
import functools
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlite_utils

from bot.errors import StoreError
from bot.store.sqlite.faults import database_problem

P = ParamSpec("P")
T = TypeVar("T")

READERS = 4
BUSY_TIMEOUT_SECONDS = 5.0  # how long a write waits for another process's write lock


class Connections:
    def __init__(self, path: str, readers: int = READERS) -> None:
        self.path = path
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._readers: Executor = self._writer
        if path != ":memory:":
            self._readers = ThreadPoolExecutor(readers, thread_name_prefix="sqlite-reader")
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opening = threading.Lock()
        self._closed = False

    def start(self, prepare: Callable[[sqlite_utils.Database], T]) -> T:
        """Open the writer's connection and run `prepare` (the migrations) on it. Blocks
        its caller: it runs once, at startup, before anything is served."""
        return self._writer.submit(_translated(self._open_writer), prepare).result()

    async def read(
        self,
        work: Callable[Concatenate[sqlite_utils.Database, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`work(db, ...)` on a reader's connection, which refuses to write."""
        call = functools.partial(self._on_reader, work, *args, **kwargs)
        return await self._submit(self._readers, call)

    async def write(
        self,
        work: Callable[Concatenate[sqlite_utils.Database, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`work(db, ...)` on the writer's connection, after every write queued before it.
        Each call is its own transaction, or several in `db.atomic()`.

        A write once asked for is done even if its caller is cancelled meanwhile (a
        shutdown): cancelled while queued, it would be dropped, and the caller could not
        tell whether it happened, such as Slack's answer to a post recorded or not."""
        call = functools.partial(self._on_writer, work, *args, **kwargs)
        running = self._submit(self._writer, call)
        # Read even when nobody awaits it any more, so asyncio has nothing to report.
        running.add_done_callback(lambda done: done.cancelled() or done.exception())
        return await asyncio.shield(running)

    async def raw(self, statement: str) -> list[Any]:
        """One statement on the writer's connection, outside the transaction every write
        gets: for PRAGMAs (some cannot run inside one) in maintenance, and for tests that
        make the database fail."""

        def run() -> list[Any]:
            try:
                return list(self._local.db.execute(statement).fetchall())
            except sqlite3.Error as exc:
                raise StoreError(database_problem(exc)) from exc

        return await self._submit(self._writer, run)

    def _submit(self, executor: Executor, call: Callable[[], T]) -> "asyncio.Future[T]":
        if self._closed:
            raise StoreError("The bot's database is closed: the bot is stopping.")
        return asyncio.get_running_loop().run_in_executor(executor, call)

    def close(self) -> None:
        """Finish the queued work, then close every connection."""
        self._closed = True
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        for conn in self._opened:
            conn.close()

    def _open_writer(self, prepare: Callable[[sqlite_utils.Database], T]) -> T:
        db = self._connect(readonly=False)
        db.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL loses nothing when the process dies, only possibly the last
        # transactions if the machine does, and spares an fsync per commit (about 13 ms
        # each, measured by bench/ingest.py).
        db.execute("PRAGMA synchronous=NORMAL")
        prepared = prepare(db)
        self._local.db = db
        return prepared

    def _on_writer(self, work: Callable[..., T], *args: object, **kwargs: object) -> T:
        # Each write is one transaction that takes the write lock as it begins, so waiting
        # on another process's lock is SQLite's busy timeout. A transaction that began by
        # reading (sqlite-utils reads the schema first) and then wrote would instead fail
        # at once with "database is locked" while anyone else held it. Nested atomic()
        # blocks become savepoints.
        db: sqlite_utils.Database = self._local.db
        try:
            db.conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(db, *args, **kwargs)
                db.conn.execute("COMMIT")
            except BaseException:
                if db.conn.in_transaction:
                    db.conn.execute("ROLLBACK")
                raise
            return result
        except sqlite3.Error as exc:
            raise StoreError(database_problem(exc)) from exc

    def _on_reader(self, work: Callable[..., T], *args: object, **kwargs: object) -> T:
        try:
            db = getattr(self._local, "db", None) or self._connect(readonly=True)
            self._local.db = db
            return work(db, *args, **kwargs)
        except sqlite3.Error as exc:
            raise StoreError(database_problem(exc)) from exc

    def _connect(self, readonly: bool) -> sqlite_utils.Database:
        # Each connection is used by the one thread that opened it; close() runs on
        # another, after those threads have stopped.
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
        with self._opening:
            self._opened.append(conn)
        db = sqlite_utils.Database(conn)
        if readonly:
            db.execute("PRAGMA query_only=1")
        return db


def _translated(work: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(work)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return work(*args, **kwargs)
        except sqlite3.Error as exc:
            raise StoreError(database_problem(exc)) from exc

    return call
