"""Lookups in PostgreSQL: the cache of Twilio's answers about numbers, and the paid
lookups each person made (the quota), counted atomically across replicas."""

import json
from dataclasses import fields
from datetime import datetime

from bot.answers.phone_numbers import Lookup
from bot.store.postgresql.connections import Connections, Cursor
from bot.store.values import CachedLookup

_COLUMNS = tuple(f.name for f in fields(Lookup))
_QUOTA_LOCK = 0x7477_6F70_7371_7461  # "twopsqta": with the asker's hash, serialises their uses


class PostgresLookups:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def save(self, lookup: Lookup, at: datetime) -> None:
        row: dict[str, object] = {name: getattr(lookup, name) for name in _COLUMNS}
        row["validation_errors"] = json.dumps(list(lookup.validation_errors))
        row["looked_up_at"] = at
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


async def _save(cursor: Cursor, row: dict[str, object]) -> None:
    names = ", ".join(row)
    await cursor.execute(
        f"insert into lookups ({names}) values ({', '.join(['%s'] * len(row))}) "
        "on conflict (phone_number) do update set "
        + ", ".join(f"{name} = excluded.{name}" for name in row if name != "phone_number"),
        list(row.values()),
    )


async def _cached(cursor: Cursor, e164: str, since: datetime) -> CachedLookup | None:
    await cursor.execute(
        f"select {', '.join(_COLUMNS)}, looked_up_at from lookups "
        "where phone_number = %s and looked_up_at >= %s",
        [e164, since],
    )
    found = await cursor.fetchone()
    if found is None:
        return None
    values = dict(zip(_COLUMNS, found, strict=False))
    values["validation_errors"] = tuple(json.loads(str(values["validation_errors"])))
    return CachedLookup(Lookup(**values), found[-1])


async def _uses(cursor: Cursor, asker: str, since: datetime) -> list[datetime]:
    await cursor.execute(
        "select at from lookup_uses where asker = %s and at >= %s order by at", [asker, since]
    )
    return [at for (at,) in await cursor.fetchall()]


async def _add_use(
    cursor: Cursor, asker: str, at: datetime, forget_before: datetime, limit: int
) -> int | None:
    # Counted and added under a lock on the asker, held to the end of the transaction:
    # two asks at once, on two replicas, cannot both take the last use.
    await cursor.execute(
        "select pg_advisory_xact_lock(%s::int, hashtext(%s))", [_QUOTA_LOCK >> 32, asker]
    )
    await cursor.execute("delete from lookup_uses where at < %s", [forget_before])
    await cursor.execute("select count(*) from lookup_uses where asker = %s", [asker])
    row = await cursor.fetchone()
    if row is not None and int(row[0]) >= limit:
        return None
    await cursor.execute(
        "insert into lookup_uses (asker, at) values (%s, %s) returning id", [asker, at]
    )
    added = await cursor.fetchone()
    assert added is not None  # returning always answers an insert
    return int(added[0])


async def _remove_use(cursor: Cursor, use: int) -> None:
    # A use whose lookup never happened (Twilio failed) is not charged.
    await cursor.execute("delete from lookup_uses where id = %s", [use])


async def _carriers(cursor: Cursor) -> dict[str, str]:
    await cursor.execute(
        "select phone_number, carrier_name from lookups where carrier_name is not null"
    )
    return dict(await cursor.fetchall())
