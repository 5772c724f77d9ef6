"""Lock: a PostgreSQL advisory lock, held on a connection of its own by the replica that
watches, as the SQLite store holds an OS lock beside its file.

The server drops it when that connection ends, however its process died (SIGKILL
included), so the next replica can tell a dead watcher from a living one and take over at
once instead of waiting out the dead one's lease.
"""

import psycopg

from bot.store.leases import Lock
from bot.store.postgresql.connections import session_options

# The watcher's advisory lock, keyed by the schema too: bots in two schemas of one
# database (the demo beside a real one) each have their own.
WATCHER_LOCK = 0x7761_7463  # "watc"


class AdvisoryLock:
    def __init__(self, url: str, connect_timeout_seconds: float) -> None:
        self._url = url
        self._timeout = connect_timeout_seconds
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None

    async def acquire(self) -> Lock:
        """ "held" already, "taken" now, or "busy" (a living replica holds it). Raises
        psycopg.Error when the server cannot be reached."""
        if self._conn is not None:
            try:
                await self._conn.execute("select 1")
                return "held"
            except psycopg.Error:
                await self.release()  # the connection, and so the lock, is gone
        conn = await psycopg.AsyncConnection.connect(
            self._url, autocommit=True, **session_options(self._timeout)
        )
        try:
            cursor = await conn.execute(
                "select pg_try_advisory_lock(hashtext(current_schema()), %s::int)", [WATCHER_LOCK]
            )
            row = await cursor.fetchone()
        except BaseException:
            await conn.close()
            raise
        if not (row and row[0]):
            await conn.close()
            return "busy"
        self._conn = conn
        return "taken"

    async def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()  # ending the session drops the lock
