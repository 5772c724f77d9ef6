"""Incidents in SQLite: each with the reading its Slack message shows, where that message
is, and the button clicks already acted on."""

from collections.abc import Callable
from dataclasses import fields, replace
from datetime import datetime
from typing import Any

import sqlite_utils
from sqlite_utils.db import NotFoundError

from bot.domain.alerting import Incident, SlackMessage
from bot.domain.thresholds import Severity
from bot.store.encoding import iso, reading_from_json, reading_json
from bot.store.sqlite import outbox
from bot.store.sqlite.connections import Connections
from bot.store.sqlite.migrations import iso_or_none
from bot.store.sqlite.watcher_state import fenced
from bot.store.values import Change, IncidentRecord

_MOMENTS = ("opened_at", "updated_at", "resolved_at", "muted_until")


class SqliteIncidents:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def open_for(self, key: str) -> Incident | None:
        return await self._db.read(_open_for, key)

    async def on_code(self, code: int, limit: int = 20) -> list[Incident]:
        return await self._db.read(_on_code, code, limit)

    async def open_all(self) -> list[Incident]:
        return await self._db.read(_open_all)

    async def during(self, since: datetime, until: datetime) -> list[Incident]:
        return await self._db.read(_during, since, until)

    async def record(self, incident_id: int) -> IncidentRecord | None:
        return await self._db.read(_record, incident_id)

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


def _open_for(db: sqlite_utils.Database, key: str) -> Incident | None:
    for row in db.table("incidents").rows_where(
        "key = ? and resolved_at is null", [key], order_by="id desc", limit=1
    ):
        return _incident(row)
    return None


def _on_code(db: sqlite_utils.Database, code: int, limit: int) -> list[Incident]:
    rows = db.table("incidents").rows_where("code = ?", [code], order_by="id desc", limit=limit)
    return [_incident(row) for row in rows]


def _open_all(db: sqlite_utils.Database) -> list[Incident]:
    rows = db.table("incidents").rows_where("resolved_at is null", order_by="id")
    return [_incident(row) for row in rows]


def _during(db: sqlite_utils.Database, since: datetime, until: datetime) -> list[Incident]:
    rows = db.table("incidents").rows_where(
        "opened_at < ? and (resolved_at is null or resolved_at >= ?)",
        [iso(until), iso(since)],
        order_by="opened_at, id",
    )
    return [_incident(row) for row in rows]


def _record(db: sqlite_utils.Database, incident_id: int) -> IncidentRecord | None:
    try:
        row = db.table("incidents").get(incident_id)
    except NotFoundError:
        return None
    return IncidentRecord(
        incident=_incident(row),
        reading=reading_from_json(row["reading"]) if row["reading"] else None,
        posted=SlackMessage(row["channel"], row["ts"]) if row["ts"] else None,
        shown=row["shown"] or "",
        queued=outbox.has_posts(db, incident_id),
    )


def _apply(
    db: sqlite_utils.Database,
    incident_id: int | None,
    decide: Callable[[IncidentRecord | None], Change | None],
    now: datetime,
    fence: int | None,
) -> Incident | None:
    # One transaction: an incident is never saved without what Slack should see of it.
    with db.atomic():
        fenced(db, fence)
        change = decide(_record(db, incident_id) if incident_id is not None else None)
        if change is None:
            return None
        row: dict[str, object] = {
            f.name: getattr(change.incident, f.name) for f in fields(Incident)
        }
        for name in _MOMENTS:
            row[name] = iso_or_none(row[name])  # type: ignore[arg-type]
        if change.reading is not None:
            row["reading"] = reading_json(change.reading)
        table = db.table("incidents")
        incident = change.incident
        if incident.id is None:
            row.pop("id")
            table.insert(row)
            incident = replace(incident, id=table.last_pk)
        else:
            table.update(incident.id, row)
        assert incident.id is not None
        if change.draw is not None:
            drawn = change.draw(incident)
            table.update(incident.id, {"shown": drawn.shown})
            for draft in drawn.drafts:
                outbox.enqueue(db, incident.id, draft, now)
    return incident


def _first_click(
    db: sqlite_utils.Database, key: str, at: datetime, forget_before: datetime
) -> bool:
    with db.atomic():
        db.execute("delete from clicks where at < ?", [iso(forget_before)])
        added = db.execute(
            "insert or ignore into clicks (key, at) values (?, ?)", [key, iso(at)]
        ).rowcount
    return bool(added == 1)


def _incident(row: dict[str, Any]) -> Incident:
    values = {f.name: row[f.name] for f in fields(Incident)}
    for name in _MOMENTS:
        text = values[name]
        values[name] = datetime.fromisoformat(text) if text else None
    values["severity"] = Severity(values["severity"])
    return Incident(**values)
