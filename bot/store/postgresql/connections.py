"""Connections: a pool of PostgreSQL connections, served to the repositories one
transaction at a time.

psycopg 3's asyncio interface waits on the socket, so the event loop only awaits; each
call borrows a connection for one transaction, commits it (or rolls it back on an error)
and gives it back. Every connection is set to UTC and to a statement timeout, so a lock
or a slow disk delays the call waiting on it by seconds at most, never an ack.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot.errors import StoreError
from bot.store.postgresql.faults import database_problem

P = ParamSpec("P")
T = TypeVar("T")

Cursor = psycopg.AsyncCursor[tuple[Any, ...]]  # rows as the server typed them

POOL_SIZE = 8  # connections a process may hold; commands, webhooks and the watcher share them
STATEMENT_TIMEOUT_MS = 15_000  # the longest statement: a week's first hourly count, in a batch
WAIT_SECONDS = 5.0  # how long a call waits for a connection (or the server) before failing
DOWN_WAIT_SECONDS = 0.5  # the same, while the last call found the server away


class Connections:
    def __init__(
        self,
        url: str,
        prepare: Callable[[Cursor], Awaitable[list[str]]] | None = None,
        size: int = POOL_SIZE,
        statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
        wait_seconds: float = WAIT_SECONDS,
    ) -> None:
        """`prepare` (the migrations) runs once, in a transaction of its own, before any
        other work: as the pool opens, or, if the server was down then, first thing once
        it answers."""
        self.url = url
        self._prepare = prepare
        self._prepared = prepare is None
        self._preparing = asyncio.Lock()
        self._statement_timeout_ms = statement_timeout_ms
        self.wait_seconds = wait_seconds
        self._pool = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=size,
            open=False,
            timeout=wait_seconds,
            configure=self._configure,
            # A broken connection (the server restarted) is noticed as it is lent, not by
            # the call that gets it.
            check=AsyncConnectionPool.check_connection,
            kwargs=session_options(wait_seconds),
            name="bot",
        )
        self._closed = False
        self._away = False  # the last call found the server unreachable

    async def open(self) -> list[str]:
        """Open the pool and prepare the database; returns what `prepare` returned (the
        migrations run). Raises
        StoreError when the server does not answer, but stays open: the pool keeps
        connecting in the background, and the first call it serves prepares first."""
        await self._pool.open(wait=False)
        return await self._ready()

    def mark_away(self) -> None:
        """The server did not answer another connection (the lease's): calls wait only a
        moment for one until a call gets through."""
        self._away = True

    async def _ready(self) -> list[str]:
        if self._prepared or self._prepare is None:
            return []
        async with self._preparing:  # one call prepares; any others wait for it
            if self._prepared:
                return []
            done = await self._run_now(self._prepare)
            self._prepared = True
            return done

    async def close(self) -> None:
        self._closed = True
        await self._pool.close()

    async def read(
        self,
        work: Callable[Concatenate[Cursor, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`await work(cursor, ...)` in a transaction of its own."""
        return await self._run(work, *args, **kwargs)

    async def write(
        self,
        work: Callable[Concatenate[Cursor, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`await work(cursor, ...)` in a transaction of its own, committed when it returns.

        A write once asked for is done even if its caller is cancelled meanwhile (a
        shutdown), as on SQLite: the caller could not tell otherwise whether it happened,
        such as Slack's answer to a post recorded or not."""
        running = asyncio.ensure_future(self._run(work, *args, **kwargs))
        running.add_done_callback(lambda done: done.cancelled() or done.exception())
        return await asyncio.shield(running)

    async def _run(self, work: Callable[..., Awaitable[T]], *args: object, **kwargs: object) -> T:
        if self._closed:
            raise StoreError("The bot's database is closed: the bot is stopping.")
        await self._ready()
        return await self._run_now(work, *args, **kwargs)

    async def _run_now(
        self, work: Callable[..., Awaitable[T]], *args: object, **kwargs: object
    ) -> T:
        # Once the server is known to be away, a call waits a moment for a connection,
        # not the whole wait: every command would otherwise take that long to say so.
        wait = DOWN_WAIT_SECONDS if self._away else self.wait_seconds
        try:
            async with self._pool.connection(wait) as conn, conn.cursor() as cursor:
                result = await work(cursor, *args, **kwargs)
        except PoolTimeout as exc:
            self._away = True
            raise StoreError(_unreachable(wait)) from exc
        except psycopg.OperationalError as exc:
            self._away = True
            raise StoreError(database_problem(exc)) from exc
        except psycopg.Error as exc:
            raise StoreError(database_problem(exc)) from exc
        self._away = False
        return result

    async def _configure(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        await conn.execute("set timezone = 'UTC'")
        await conn.execute(f"set statement_timeout = {int(self._statement_timeout_ms)}")
        # A transaction left open by a dying call must not hold its locks for long.
        await conn.execute("set idle_in_transaction_session_timeout = 60000")
        await conn.commit()


def session_options(wait_seconds: float) -> dict[str, Any]:
    """libpq's options for every connection: a connect that gives up, and a connection
    the kernel gives up on once the server stops answering (a network cut sends nothing:
    without these, a call would wait on it for hours)."""
    return {
        "connect_timeout": max(1, round(wait_seconds)),
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
        "tcp_user_timeout": 60_000,  # ms: data sent and not acknowledged for a minute
    }


def _unreachable(seconds: float) -> str:
    return (
        "The bot's database is unavailable: PostgreSQL (DATABASE_URL) gave no connection "
        f"in {seconds:g} s; check that the server is up and reachable."
    )
