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
from bot.numbers import Lookup


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


def _create_lookups(db: sqlite_utils.Database) -> None:
    db.table("lookups").create(
        {
            "phone_number": str,
            "valid": int,
            "validation_errors": str,  # JSON list
            "national_format": str,
            "country_code": str,
            "line_type": str,
            "carrier_name": str,
            "mobile_country_code": str,
            "mobile_network_code": str,
            "line_type_error": int,
            "looked_up_at": str,
        },
        pk="phone_number",
    )
    # One row per paid lookup, for the per-user hourly limit.
    uses = db.table("lookup_uses")
    uses.create({"asker": str, "at": str})
    uses.create_index(["asker", "at"])


# Append only: a migration that has run on someone's file must never change.
MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_dictionary", _create_dictionary),
    ("0002_messages", _create_messages),
    ("0003_lookups", _create_lookups),
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

    def save_lookup(self, lookup: Lookup, at: datetime) -> None:
        row = {f.name: getattr(lookup, f.name) for f in fields(Lookup)}
        row["validation_errors"] = json.dumps(list(lookup.validation_errors))
        row["looked_up_at"] = _iso(at)
        with self.db.conn:
            self.db.table("lookups").upsert(row, pk="phone_number")

    def cached_lookup(self, e164: str, since: datetime) -> tuple[Lookup, datetime] | None:
        """The stored lookup of `e164` and when it was made, if made since `since`."""
        for row in self.db.table("lookups").rows_where(
            "phone_number = ? and looked_up_at >= ?", [e164, _iso(since)]
        ):
            at = datetime.fromisoformat(row.pop("looked_up_at"))
            row["valid"] = bool(row["valid"])
            row["validation_errors"] = tuple(json.loads(row["validation_errors"]))
            return Lookup(**row), at
        return None

    def lookup_uses(self, asker: str, since: datetime) -> list[datetime]:
        """When `asker` made paid lookups since `since`, oldest first."""
        rows = self.db.table("lookup_uses").rows_where(
            "asker = ? and at >= ?", [asker, _iso(since)], order_by="at"
        )
        return [datetime.fromisoformat(row["at"]) for row in rows]

    def add_lookup_use(self, asker: str, at: datetime, forget_before: datetime) -> int:
        """Count one paid lookup; uses older than `forget_before` are dropped. Returns its id."""
        uses = self.db.table("lookup_uses")
        with self.db.conn:
            uses.delete_where("at < ?", [_iso(forget_before)])
            uses.insert({"asker": asker, "at": _iso(at)})
        assert uses.last_rowid is not None
        return uses.last_rowid

    def remove_lookup_use(self, use: int) -> None:
        """Take back a use whose lookup never happened (Twilio failed), so it is not charged."""
        with self.db.conn:
            self.db.table("lookup_uses").delete_where("rowid = ?", [use])


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
