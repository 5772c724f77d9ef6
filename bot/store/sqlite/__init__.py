"""The store in one SQLite file, through sqlite-utils: the only package that imports it.

Tables are created by numbered migrations on first use, so an old file is brought up to
date in place. All work runs off the event loop (`connections`).
"""

import os
from pathlib import Path

from bot.errors import StoreError
from bot.store.sqlite.connections import Connections
from bot.store.sqlite.dictionary import SqliteDictionary
from bot.store.sqlite.incidents import SqliteIncidents
from bot.store.sqlite.lock import ProcessLock
from bot.store.sqlite.lookups import SqliteLookups
from bot.store.sqlite.messages import SqliteMessages
from bot.store.sqlite.migrations import migrate
from bot.store.sqlite.mutes import SqliteMutes
from bot.store.sqlite.outbox import SqliteOutbox
from bot.store.sqlite.watcher_state import SqliteWatcherState


class SqliteStore:
    """Every repository of `bot.store.repositories` over one file. Opening it runs the
    migrations and blocks until they are done: it happens once, at startup."""

    def __init__(self, path: str) -> None:
        self.path = path
        memory = path == ":memory:"
        self.connections = Connections(path)  # for maintenance and tests, not the bot
        try:
            if not memory:
                _create_private(Path(path))
            self._migrated = self.connections.start(migrate)
        except (StoreError, OSError) as exc:
            self.connections.close()
            raise StoreError(f"cannot use the database {path} (DATABASE_PATH): {exc}") from exc
        self._lock = ProcessLock(None if memory else f"{path}-watcher.lock")
        self.dictionary = SqliteDictionary(self.connections)
        self.messages = SqliteMessages(self.connections)
        self.lookups = SqliteLookups(self.connections)
        self.incidents = SqliteIncidents(self.connections)
        self.outbox = SqliteOutbox(self.connections)
        self.watcher = SqliteWatcherState(self.connections, self._lock)
        self.mutes = SqliteMutes(self.connections)

    async def open(self) -> list[str]:
        """Nothing left to do: the file was opened, and brought up to date, as the store
        was built. Returns the migrations that ran then."""
        return self._migrated

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        self.connections.close()
        self._lock.release()


def _create_private(path: Path) -> None:
    """Create the file readable by its owner only: it will hold phone numbers."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
