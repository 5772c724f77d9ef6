"""Incidents in PostgreSQL: each with the reading its Slack message shows, where that
message is, and the button clicks already acted on. Same contract as on SQLite; a change
locks its incident's row, so a button on one replica and a cycle on another are decided
one after the other."""

from collections.abc import Callable
from dataclasses import fields, replace
from datetime import datetime
from typing import Any

from bot.domain.alerting import Incident, SlackMessage
from bot.domain.thresholds import Severity
from bot.store.encoding import reading_from_json, reading_json
from bot.store.postgresql import outbox
from bot.store.postgresql.connections import Connections, Cursor
from bot.store.postgresql.watcher_state import fenced
from bot.store.values import Change, IncidentRecord

INCIDENT_COLUMNS = tuple(f.name for f in fields(Incident))
_RECORD_COLUMNS = (*INCIDENT_COLUMNS, "reading", "channel", "ts", "shown")
_SELECT = ", ".join(INCIDENT_COLUMNS)


class PostgresIncidents:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def open_for(self, key: str) -> Incident | None:
        found = await self._db.read(
            _incidents, "where key = %s and resolved_at is null order by id desc limit 1", [key]
        )
        return found[0] if found else None

    async def on_code(self, code: int, limit: int = 20) -> list[Incident]:
        return await self._db.read(
            _incidents, "where code = %s order by id desc limit %s", [code, limit]
        )

    async def open_all(self) -> list[Incident]:
        return await self._db.read(_incidents, "where resolved_at is null order by id", [])

    async def during(self, since: datetime, until: datetime) -> list[Incident]:
        return await self._db.read(
            _incidents,
            "where opened_at < %s and (resolved_at is null or resolved_at >= %s) "
            "order by opened_at, id",
            [until, since],
        )

    async def record(self, incident_id: int) -> IncidentRecord | None:
        return await self._db.read(_record, incident_id, False)

    async def apply(
        self,
        incident_id: int | None,
        decide: Callable[[IncidentRecord | None], Change | None],
        now: datetime,
        fence: int | None = None,
    ) -> Incident | None:
        return await self._db.write(_apply, incident_id, decide, now, fence)

    async def first_click(self, key: str, at: datetime, forget_before: datetime) -> bool:
        return await self._db.write(_first_click, key, at, forget_before)


async def _incidents(cursor: Cursor, where: str, params: list[object]) -> list[Incident]:
    await cursor.execute(f"select {_SELECT} from incidents {where}", params)
    return [
        _incident(dict(zip(INCIDENT_COLUMNS, row, strict=True))) for row in await cursor.fetchall()
    ]


async def _record(cursor: Cursor, incident_id: int, lock: bool) -> IncidentRecord | None:
    await cursor.execute(
        f"select {', '.join(_RECORD_COLUMNS)} from incidents where id = %s"
        + (" for update" if lock else ""),
        [incident_id],
    )
    found = await cursor.fetchone()
    if found is None:
        return None
    row = dict(zip(_RECORD_COLUMNS, found, strict=True))
    return IncidentRecord(
        incident=_incident(row),
        reading=reading_from_json(row["reading"]) if row["reading"] else None,
        posted=SlackMessage(row["channel"], row["ts"]) if row["ts"] else None,
        shown=row["shown"] or "",
        queued=await outbox.has_posts(cursor, incident_id),
    )


async def _apply(
    cursor: Cursor,
    incident_id: int | None,
    decide: Callable[[IncidentRecord | None], Change | None],
    now: datetime,
    fence: int | None,
) -> Incident | None:
    # One transaction: an incident is never saved without what Slack should see of it.
    await fenced(cursor, fence)
    record = await _record(cursor, incident_id, True) if incident_id is not None else None
    change = decide(record)
    if change is None:
        return None
    row: dict[str, Any] = {name: getattr(change.incident, name) for name in INCIDENT_COLUMNS}
    row["severity"] = str(row["severity"])
    row.pop("id")
    if change.reading is not None:
        row["reading"] = reading_json(change.reading)
    incident = change.incident
    if incident.id is None:
        await cursor.execute(
            f"insert into incidents ({', '.join(row)}) values ({', '.join(['%s'] * len(row))}) "
            "returning id",
            list(row.values()),
        )
        created = await cursor.fetchone()
        assert created is not None  # returning always answers an insert
        incident = replace(incident, id=created[0])
    else:
        await cursor.execute(
            f"update incidents set {', '.join(f'{name} = %s' for name in row)} where id = %s",
            [*row.values(), incident.id],
        )
    assert incident.id is not None
    if change.draw is not None:
        drawn = change.draw(incident)
        await cursor.execute(
            "update incidents set shown = %s where id = %s", [drawn.shown, incident.id]
        )
        for draft in drawn.drafts:
            await outbox.enqueue(cursor, incident.id, draft, now)
    return incident


async def _first_click(cursor: Cursor, key: str, at: datetime, forget_before: datetime) -> bool:
    await cursor.execute("delete from clicks where at < %s", [forget_before])
    await cursor.execute(
        "insert into clicks (key, at) values (%s, %s) on conflict (key) do nothing", [key, at]
    )
    return cursor.rowcount == 1


def _incident(row: dict[str, Any]) -> Incident:
    values = {name: row[name] for name in INCIDENT_COLUMNS}
    values["severity"] = Severity(values["severity"])
    return Incident(**values)
