"""Segment mutes in PostgreSQL, as on SQLite: a code's country, sender or carrier left out
of detection for a while."""

from datetime import datetime
from typing import Any

from bot.domain.segments import Segment, SegmentKind
from bot.store.postgresql.connections import Connections, Cursor
from bot.store.values import SegmentMute

_COLUMNS = "id, code, kind, segment, until, muted_by, muted_at"


class PostgresMutes:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def mute(self, mute: SegmentMute) -> int:
        return await self._db.write(_mute, mute)

    async def active(self, now: datetime) -> list[SegmentMute]:
        return await self._db.read(_active, now)

    async def unmute(self, mute_id: int) -> SegmentMute | None:
        return await self._db.write(_unmute, mute_id)


async def _mute(cursor: Cursor, mute: SegmentMute) -> int:
    await cursor.execute(
        "insert into segment_mutes (code, kind, segment, until, muted_by, muted_at) "
        "values (%s, %s, %s, %s, %s, %s) on conflict (code, kind, segment) do update set "
        "until = excluded.until, muted_by = excluded.muted_by, "
        "muted_at = excluded.muted_at returning id",
        [mute.code, mute.segment.kind.value, mute.segment.value, mute.until, mute.by, mute.at],
    )
    row = await cursor.fetchone()
    assert row is not None  # an upsert returns its row
    return int(row[0])


async def _active(cursor: Cursor, now: datetime) -> list[SegmentMute]:
    await cursor.execute(
        f"select {_COLUMNS} from segment_mutes where until > %s order by until, id", [now]
    )
    return [_from_row(row) for row in await cursor.fetchall()]


async def _unmute(cursor: Cursor, mute_id: int) -> SegmentMute | None:
    await cursor.execute(f"delete from segment_mutes where id = %s returning {_COLUMNS}", [mute_id])
    row = await cursor.fetchone()
    return _from_row(row) if row else None


def _from_row(row: Any) -> SegmentMute:
    mute_id, code, kind, value, until, by, at = row
    return SegmentMute(code, Segment(SegmentKind(kind), value), until, by, at, mute_id)
