"""Lookups in SQLite: the cache of Twilio's answers about numbers, and the paid lookups
each person made (the quota)."""

import json
from dataclasses import fields
from datetime import datetime

import sqlite_utils

from bot.answers.phone_numbers import Lookup
from bot.store.encoding import iso
from bot.store.sqlite.connections import Connections
from bot.store.values import CachedLookup


class SqliteLookups:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def save(self, lookup: Lookup, at: datetime) -> None:
        row: dict[str, object] = {f.name: getattr(lookup, f.name) for f in fields(Lookup)}
        row["validation_errors"] = json.dumps(list(lookup.validation_errors))
        row["looked_up_at"] = iso(at)
        await self._db.write(_save, row)

    async def cached(self, e164: str, since: datetime) -> CachedLookup | None:
        return await self._db.read(_cached, e164, since)

    async def uses(self, asker: str, since: datetime) -> list[datetime]:
        return await self._db.read(_uses, asker, since)

    async def add_use(
        self, asker: str, at: datetime, forget_before: datetime, limit: int
    ) -> int | None:
        return await self._db.write(_add_use, asker, at, forget_before, limit)

    async def remove_use(self, use: int) -> None:
        await self._db.write(_remove_use, use)

    async def carriers(self) -> dict[str, str]:
        return await self._db.read(_carriers)


def _save(db: sqlite_utils.Database, row: dict[str, object]) -> None:
    with db.atomic():
        db.table("lookups").upsert(row, pk="phone_number")


def _cached(db: sqlite_utils.Database, e164: str, since: datetime) -> CachedLookup | None:
    for row in db.table("lookups").rows_where(
        "phone_number = ? and looked_up_at >= ?", [e164, iso(since)]
    ):
        at = datetime.fromisoformat(row.pop("looked_up_at"))
        row["valid"] = bool(row["valid"])
        row["validation_errors"] = tuple(json.loads(row["validation_errors"]))
        return CachedLookup(Lookup(**row), at)
    return None


def _uses(db: sqlite_utils.Database, asker: str, since: datetime) -> list[datetime]:
    rows = db.table("lookup_uses").rows_where(
        "asker = ? and at >= ?", [asker, iso(since)], order_by="at"
    )
    return [datetime.fromisoformat(row["at"]) for row in rows]


def _add_use(
    db: sqlite_utils.Database, asker: str, at: datetime, forget_before: datetime, limit: int
) -> int | None:
    # Counted and added in one transaction on the one writer: two asks at once, even from
    # two processes, cannot both take the last use.
    uses = db.table("lookup_uses")
    with db.atomic():
        uses.delete_where("at < ?", [iso(forget_before)])
        if uses.count_where("asker = ?", [asker]) >= limit:
            return None
        uses.insert({"asker": asker, "at": iso(at)})
    assert uses.last_rowid is not None
    return uses.last_rowid


def _remove_use(db: sqlite_utils.Database, use: int) -> None:
    # A use whose lookup never happened (Twilio failed) is not charged.
    with db.atomic():
        db.table("lookup_uses").delete_where("rowid = ?", [use])


def _carriers(db: sqlite_utils.Database) -> dict[str, str]:
    rows = db.table("lookups").rows_where(
        "carrier_name is not null", select="phone_number, carrier_name"
    )
    return {row["phone_number"]: row["carrier_name"] for row in rows}
