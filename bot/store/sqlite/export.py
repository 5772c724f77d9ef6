"""Export: a SQLite file's tables, read in batches, for `db copy`. Values as the file
holds them (moments as ISO 8601 text, flags as 0 and 1), which PostgreSQL's COPY reads
into its own types; the watcher's lease stays behind (it belongs to this file's
processes)."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_LEFT_BEHIND = {"poll_state": "where name != 'lease'"}
# A post on its way from a process of the file's goes as not claimed: the claim belongs
# to the lease left behind, and would hold the post back in its new database.
_SELECTED = {"sending": "0"}


def batches(
    path: Path, table: str, columns: tuple[str, ...], size: int
) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of `table`, `columns` of each, `size` at a time, read-only."""
    # Each batch may be read on another thread (`db copy` reads them off the event loop).
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    try:
        selected = ", ".join(_SELECTED.get(c, f"[{c}]") for c in columns)
        cursor = conn.execute(f"select {selected} from [{table}] {_LEFT_BEHIND.get(table, '')}")
        while rows := cursor.fetchmany(size):
            yield rows
    finally:
        conn.close()
