"""Segment mutes in SQLite: a code's country, sender or carrier left out of detection for
a while, from an alert's button, until it runs out or `/twilio status` ends it."""

from datetime import datetime

import sqlite_utils

from bot.domain.segments import Segment, SegmentKind
from bot.store.encoding import iso
from bot.store.sqlite.connections import Connections
from bot.store.values import SegmentMute

_COLUMNS = "id, code, kind, segment, until, muted_by, muted_at"


class SqliteMutes:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def mute(self, mute: SegmentMute) -> int:
        return await self._db.write(_mute, mute)

    async def active(self, now: datetime) -> list[SegmentMute]:
        return await self._db.read(_active, now)

    async def unmute(self, mute_id: int) -> SegmentMute | None:
        return await self._db.write(_unmute, mute_id)


def _mute(db: sqlite_utils.Database, mute: SegmentMute) -> int:
    # No RETURNING: SQLite has it only from 3.35, and Python may bring an older one.
    key = [mute.code, mute.segment.kind.value, mute.segment.value]
    with db.atomic():
        db.execute(
            "insert into segment_mutes (code, kind, segment, until, muted_by, muted_at) "
            "values (?, ?, ?, ?, ?, ?) on conflict (code, kind, segment) do update set "
            "until = excluded.until, muted_by = excluded.muted_by, "
            "muted_at = excluded.muted_at",
            [*key, iso(mute.until), mute.by, iso(mute.at)],
        )
        [(found,)] = db.execute(
            "select id from segment_mutes where code = ? and kind = ? and segment = ?", key
        ).fetchall()
    return int(found)


def _active(db: sqlite_utils.Database, now: datetime) -> list[SegmentMute]:
    rows = db.execute(
        f"select {_COLUMNS} from segment_mutes where until > ? order by until, id", [iso(now)]
    ).fetchall()
    return [_from_row(row) for row in rows]


def _unmute(db: sqlite_utils.Database, mute_id: int) -> SegmentMute | None:
    with db.atomic():
        rows = db.execute(f"select {_COLUMNS} from segment_mutes where id = ?", [mute_id])
        found = rows.fetchall()
        db.execute("delete from segment_mutes where id = ?", [mute_id])
    return _from_row(found[0]) if found else None


def _from_row(row: tuple) -> SegmentMute:  # type: ignore[type-arg]
    mute_id, code, kind, value, until, by, at = row
    return SegmentMute(
        code,
        Segment(SegmentKind(kind), value),
        datetime.fromisoformat(until),
        by,
        datetime.fromisoformat(at),
        mute_id,
    )
