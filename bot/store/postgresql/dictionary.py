"""Twilio's error dictionary in PostgreSQL, as `knowledge sync` imported it."""

import json
from collections.abc import Iterable

from bot.answers.dictionary import ImportedEntry
from bot.store.postgresql.connections import Connections, Cursor

_COLUMNS = (
    "code",
    "title",
    "description",
    "causes",
    "solutions",
    "log_level",
    "log_type",
    "product",
    "last_updated",
    "imported_on",
)


class PostgresDictionary:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def save(self, entries: Iterable[ImportedEntry]) -> int:
        return await self._db.write(_save, list(entries))

    async def entry(self, code: int) -> ImportedEntry | None:
        return await self._db.read(_entry, code)

    async def size(self) -> int:
        return await self._db.read(_size)


async def _save(cursor: Cursor, entries: list[ImportedEntry]) -> int:
    # An entry held in a newer version is kept: the upsert's condition says so.
    rows = [
        (
            e.code,
            e.title,
            e.description,
            json.dumps(e.causes),
            json.dumps(e.solutions),
            e.log_level,
            e.log_type,
            e.product,
            e.last_updated,
            e.imported_on,
        )
        for e in {e.code: e for e in entries}.values()
    ]
    if not rows:
        return 0
    await cursor.executemany(
        f"insert into dictionary ({', '.join(_COLUMNS)}) values "
        f"({', '.join(['%s'] * len(_COLUMNS))}) on conflict (code) do update set "
        + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])
        + " where excluded.last_updated >= dictionary.last_updated",
        rows,
    )
    return cursor.rowcount


async def _entry(cursor: Cursor, code: int) -> ImportedEntry | None:
    await cursor.execute(f"select {', '.join(_COLUMNS)} from dictionary where code = %s", [code])
    found = await cursor.fetchone()
    if found is None:
        return None
    values = dict(zip(_COLUMNS, found, strict=True))
    values["causes"] = tuple(json.loads(str(values["causes"])))
    values["solutions"] = tuple(json.loads(str(values["solutions"])))
    return ImportedEntry(**values)


async def _size(cursor: Cursor) -> int:
    await cursor.execute("select count(*) from dictionary")
    row = await cursor.fetchone()
    return int(row[0]) if row else 0
