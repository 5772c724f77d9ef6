"""Export: a SQLite file's tables, read in batches, for `db copy`. Values as the file
holds them (moments as ISO 8601 text, flags as 0 and 1), which PostgreSQL's COPY reads
into its own types; the watcher's lease stays behind (it belongs to this file's
processes)."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.errors import StoreError
from bot.store.sqlite.lock import ProcessLock

_LEFT_BEHIND = {"poll_state": "where name != 'lease'"}
# A post on its way from a process of the file's goes as not claimed: the claim belongs
# to the lease left behind, and would hold the post back in its new database.
_SELECTED = {"sending": "0"}


class Snapshot:
    """Every table as of one moment: one read transaction for the whole copy. Refuses a
    file whose watcher is running (its lock is held): its posts would go out from both
    sides."""

    def __init__(self, path: Path) -> None:
        self._lock = ProcessLock(f"{path}-watcher.lock")
        try:
            if self._lock.acquire() == "busy":
                raise StoreError(
                    f"A bot is watching {path}: stop it before copying its state, or "
                    "alerts it sends meanwhile would be sent again from PostgreSQL."
                )
        except OSError as exc:
            raise StoreError(f"cannot lock {self._lock.path}: {exc}") from exc
        # Batches may be read on other threads (`db copy` reads them off the event loop),
        # one at a time.
        self._conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
        self._conn.execute("begin")  # one snapshot until close()

    def batches(
        self, table: str, columns: tuple[str, ...], size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of `table`, `columns` of each, `size` at a time."""
        selected = ", ".join(_SELECTED.get(c, f"[{c}]") for c in columns)
        where = _LEFT_BEHIND.get(table, "")
        cursor = self._conn.execute(f"select {selected} from [{table}] {where}")
        while rows := cursor.fetchmany(size):
            yield rows

    def close(self) -> None:
        self._conn.close()
        self._lock.release()
