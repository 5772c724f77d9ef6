"""The store in PostgreSQL, through psycopg 3's asyncio interface: the only package that
imports it. Chosen by DATABASE_URL; shared by any number of replicas.

Opening it (`open`) connects the pool and runs the migrations the database has not had,
under an advisory lock, so replicas starting together apply each step once.
"""

from bot.store.postgresql.connections import Connections
from bot.store.postgresql.dictionary import PostgresDictionary
from bot.store.postgresql.incidents import PostgresIncidents
from bot.store.postgresql.lock import AdvisoryLock
from bot.store.postgresql.lookups import PostgresLookups
from bot.store.postgresql.messages import PostgresMessages
from bot.store.postgresql.migrations import migrate
from bot.store.postgresql.outbox import PostgresOutbox
from bot.store.postgresql.watcher_state import PostgresWatcherState


class PostgresStore:
    """Every repository of `bot.store.repositories` over one PostgreSQL database. Built
    closed: `await open()` before the first call (the app does it as it starts)."""

    def __init__(self, url: str, connections: Connections | None = None) -> None:
        self.connections = connections or Connections(url)
        self._lock = AdvisoryLock(url, self.connections.wait_seconds)
        self.dictionary = PostgresDictionary(self.connections)
        self.messages = PostgresMessages(self.connections)
        self.lookups = PostgresLookups(self.connections)
        self.incidents = PostgresIncidents(self.connections)
        self.outbox = PostgresOutbox(self.connections)
        self.watcher = PostgresWatcherState(self.connections, self._lock)

    async def open(self, upto: int | None = None) -> list[str]:
        """Connect, and bring the schema up to date (only its first `upto` steps, to make
        a database as an older version left it). Returns the steps run."""
        await self.connections.open()
        try:
            return await self.connections.write(migrate, upto)
        except BaseException:
            await self.connections.close()
            raise

    async def aclose(self) -> None:
        await self._lock.release()
        await self.connections.close()
