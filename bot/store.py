"""Store: the bot's one SQLite file, through sqlite-utils. The only module that imports it.

Tables are created by numbered migrations on first use, so an old file is brought up to
date in place. Queries are small and synchronous; one connection per process.
"""

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import sqlite_utils
from sqlite_utils.db import NotFoundError

from bot.dictionary import ImportedEntry


def _create_dictionary(db: sqlite_utils.Database) -> None:
    db.table("dictionary").create(
        {
            "code": int,
            "title": str,
            "description": str,
            "causes": str,  # JSON list
            "solutions": str,  # JSON list
            "log_level": str,
            "log_type": str,
            "product": str,
            "last_updated": str,
            "imported_on": str,
        },
        pk="code",
    )


# Append only: a migration that has run on someone's file must never change.
MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_dictionary", _create_dictionary),
]


class Store:
    def __init__(self, path: str) -> None:
        if path != ":memory:":
            _create_private(Path(path))
        self.db = sqlite_utils.Database(path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self._migrate()

    def close(self) -> None:
        self.db.close()

    def _migrate(self) -> None:
        applied = self.db.table("_migrations")
        if not applied.exists():
            applied.create({"name": str}, pk="name")
        done = {row["name"] for row in applied.rows}
        for name, migrate in MIGRATIONS:
            if name not in done:
                with self.db.conn:
                    migrate(self.db)
                    applied.insert({"name": name})

    def save_dictionary(self, entries: Iterable[ImportedEntry]) -> int:
        """Store imported entries; one already held with a newer `last_updated` is kept.

        Returns how many rows were written.
        """
        table = self.db.table("dictionary")
        held = {
            row["code"]: row["last_updated"]
            for row in table.rows_where(select="code, last_updated")
        }
        rows = [
            {
                "code": e.code,
                "title": e.title,
                "description": e.description,
                "causes": json.dumps(e.causes),
                "solutions": json.dumps(e.solutions),
                "log_level": e.log_level,
                "log_type": e.log_type,
                "product": e.product,
                "last_updated": e.last_updated,
                "imported_on": e.imported_on,
            }
            for e in entries
            if e.code not in held or e.last_updated >= held[e.code]
        ]
        with self.db.conn:
            table.upsert_all(rows, pk="code")
        return len(rows)

    def imported_entry(self, code: int) -> ImportedEntry | None:
        try:
            row = self.db.table("dictionary").get(code)
        except NotFoundError:
            return None
        return ImportedEntry(
            code=row["code"],
            title=row["title"],
            description=row["description"],
            causes=tuple(json.loads(row["causes"])),
            solutions=tuple(json.loads(row["solutions"])),
            log_level=row["log_level"],
            log_type=row["log_type"],
            product=row["product"],
            last_updated=row["last_updated"],
            imported_on=row["imported_on"],
        )

    def dictionary_size(self) -> int:
        return self.db.table("dictionary").count


def _create_private(path: Path) -> None:
    """Create the file readable by its owner only: it will hold phone numbers."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
