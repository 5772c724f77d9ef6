"""Store: the bot's one SQLite file, through sqlite-utils. The only module that imports it.

Tables are created by numbered migrations on first use, so an old file is brought up to
date in place. Queries are small and synchronous; one connection per process.
"""

import json
import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils
from sqlite_utils.db import NotFoundError

from bot.dictionary import ImportedEntry
from bot.errors import StoreError
from bot.messages import Message


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


def _create_messages(db: sqlite_utils.Database) -> None:
    messages = db.table("messages")
    messages.create(
        {
            "sid": str,
            "status": str,
            "to": str,
            "from_": str,
            "direction": str,
            "error_code": int,
            "messaging_service_sid": str,
            "num_segments": int,
            "price": str,
            "date_created": str,  # ISO 8601 UTC, so text order is time order
            "date_sent": str,
            "date_updated": str,
        },
        pk="sid",
    )
    messages.create_index(["to", "date_sent"])
    messages.create_index(["date_sent"])


# Append only: a migration that has run on someone's file must never change.
MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_dictionary", _create_dictionary),
    ("0002_messages", _create_messages),
]


class Store:
    def __init__(self, path: str) -> None:
        try:
            if path != ":memory:":
                _create_private(Path(path))
            self.db = sqlite_utils.Database(path)
            self.db.execute("PRAGMA journal_mode=WAL")
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot use the database {path} (DATABASE_PATH): {exc}") from exc

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

    def save_messages(self, messages: Iterable[Message]) -> None:
        """Upsert by SID: a message seen twice, or seen again with a later status, is one row."""
        rows = [_message_row(m) for m in messages]
        with self.db.conn:
            self.db.table("messages").upsert_all(rows, pk="sid")

    def messages_to(self, to: str, since: datetime, limit: int = 50) -> list[Message]:
        """Messages to one number sent since `since`, newest first."""
        rows = self.db.table("messages").rows_where(
            "[to] = ? and date_sent >= ?",
            [to, _iso(since)],
            order_by="date_sent desc",
            limit=limit,
        )
        return [_message(row) for row in rows]


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _message_row(m: Message) -> dict[str, object]:
    row = {f.name: getattr(m, f.name) for f in fields(Message)}
    for name in ("date_created", "date_sent", "date_updated"):
        row[name] = _iso(row[name])
    row.pop("error_message")  # Twilio's title for the code: the knowledge base has it
    row.pop("price_unit")
    return row


def _message(row: dict[str, object]) -> Message:
    values = dict(row)
    for name in ("date_created", "date_sent", "date_updated"):
        text = values[name]
        values[name] = datetime.fromisoformat(text) if isinstance(text, str) else None
    return Message(**values)  # type: ignore[arg-type]


def _create_private(path: Path) -> None:
    """Create the file readable by its owner only: it will hold phone numbers."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
