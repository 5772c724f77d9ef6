"""Twilio's error dictionary in SQLite, as `sync-dictionary` imported it."""

import json
from collections.abc import Iterable

import sqlite_utils
from sqlite_utils.db import NotFoundError

from bot.answers.dictionary import ImportedEntry
from bot.store.sqlite.connections import Connections


class SqliteDictionary:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def save(self, entries: Iterable[ImportedEntry]) -> int:
        return await self._db.write(_save, list(entries))

    async def entry(self, code: int) -> ImportedEntry | None:
        return await self._db.read(_entry, code)

    async def size(self) -> int:
        return await self._db.read(_size)


def _save(db: sqlite_utils.Database, entries: list[ImportedEntry]) -> int:
    table = db.table("dictionary")
    held = {
        row["code"]: row["last_updated"] for row in table.rows_where(select="code, last_updated")
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
    with db.atomic():
        table.upsert_all(rows, pk="code")
    return len(rows)


def _entry(db: sqlite_utils.Database, code: int) -> ImportedEntry | None:
    try:
        row = db.table("dictionary").get(code)
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


def _size(db: sqlite_utils.Database) -> int:
    return db.table("dictionary").count
