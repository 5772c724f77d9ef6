"""The store in PostgreSQL, through psycopg 3's asyncio interface: the only package that
imports it. Chosen by DATABASE_URL; shared by any number of replicas.

Opening it (`open`) connects the pool and runs the migrations the database has not had,
under an advisory lock, so replicas starting together apply each step once.
"""

import functools

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bot.domain.privacy import url_passwords
from bot.errors import StoreError
from bot.store.postgresql.connections import Connections
from bot.store.postgresql.dictionary import PostgresDictionary
from bot.store.postgresql.incidents import PostgresIncidents
from bot.store.postgresql.lock import AdvisoryLock
from bot.store.postgresql.lookups import PostgresLookups
from bot.store.postgresql.messages import PostgresMessages
from bot.store.postgresql.migrations import migrate
from bot.store.postgresql.mutes import PostgresMutes
from bot.store.postgresql.outbox import PostgresOutbox
from bot.store.postgresql.watcher_state import PostgresWatcherState


class PostgresStore:
    """Every repository of `bot.store.repositories` over one PostgreSQL database. Built
    closed: `await open()` before the first call (the app does it as it starts)."""

    def __init__(self, url: str, upto: int | None = None) -> None:
        """`upto`: only the first steps of the schema, to make a database as an older
        version left it (for tests)."""
        _check(url)
        self.connections = Connections(url, functools.partial(migrate, upto=upto))
        self._lock = AdvisoryLock(url, self.connections.wait_seconds)
        self.dictionary = PostgresDictionary(self.connections)
        self.messages = PostgresMessages(self.connections)
        self.lookups = PostgresLookups(self.connections)
        self.incidents = PostgresIncidents(self.connections)
        self.outbox = PostgresOutbox(self.connections)
        self.watcher = PostgresWatcherState(self.connections, self._lock)
        self.mutes = PostgresMutes(self.connections)

    async def open(self) -> list[str]:
        """Connect, and bring the schema up to date; returns the steps run. When the
        server does not answer, raises StoreError but stays usable: each call says the
        database is unavailable until it answers, and the first that gets through runs
        the migrations first."""
        return await self.connections.open()

    async def aclose(self) -> None:
        await self._lock.release()
        await self.connections.close()


def _check(url: str) -> None:
    """A URL libpq cannot read is a settings problem, said at once, not a connection
    that fails in the background. Its words never carry the URL's password."""
    try:
        conninfo_to_dict(url)
    except psycopg.Error as exc:
        said = str(exc)
        for password in url_passwords(url):
            said = said.replace(password, "[secret]")
        raise StoreError(f"DATABASE_URL cannot be used: {said}") from exc
