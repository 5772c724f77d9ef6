"""Messages in PostgreSQL: what the watcher, `why SM…` and StatusCallback have seen, and
the hourly rollup that keeps a week's baseline cheap. Same contract as on SQLite."""

import asyncio
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from bot.domain import failures
from bot.domain.failures import Failures
from bot.domain.hygiene import Record
from bot.domain.messages import FINAL_STATUSES, Message, takes_report
from bot.domain.reports import Report
from bot.domain.segments import History, Segment
from bot.domain.spikes import Baseline, Count
from bot.domain.traffic import Traffic
from bot.store.counting import SEGMENT_SQL
from bot.store.merging import merged, news, read_countries
from bot.store.postgresql import hygiene, rollup, segments
from bot.store.postgresql import reports as stream
from bot.store.postgresql.connections import Connections, Cursor
from bot.store.postgresql.migrations import MOMENT
from bot.store.postgresql.rows import (
    COLUMNS,
    SELECT_NAMES,
    STORED,
    STORED_NAMES,
    TYPES,
    held_rows,
    message_from_row,
    message_row,
)
from bot.store.values import Recorded


class PostgresMessages:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def save(self, messages: Sequence[Message]) -> int:
        # One row a SID, the last given: the rollup moves each message's counts once.
        # Built on a thread: the country of a number not seen before costs about 35 us.
        rows = await asyncio.to_thread(_message_rows, messages)
        return await self._db.write(_save, rows) if rows else 0

    async def record_reports(self, reports: Sequence[Report], received: datetime) -> Recorded:
        await asyncio.to_thread(read_countries, reports)  # new rows' countries, as `save`
        return await self._db.write(stream.record, reports, received)

    async def last_report(self) -> datetime | None:
        return await self._db.read(stream.last_received)

    async def forget_reports(self, before: datetime) -> int:
        return await self._db.write(stream.forget, before)

    async def record_status(self, message: Message, decided: str | None) -> bool:
        return await self._db.write(_record_status, message, decided)

    async def to_number(self, to: str, since: datetime, limit: int = 50) -> list[Message]:
        return await self._db.read(
            _select,
            'where "to" = %s and date_sent >= %s order by date_sent desc limit %s',
            [to, since, limit],
        )

    async def by_sid(self, sids: Iterable[str]) -> list[Message]:
        wanted = list(sids)
        if not wanted:
            return []
        return await self._db.read(_select, "where sid = any(%s)", [wanted])

    async def recent(self, since: datetime) -> list[Message]:
        return await self._db.read(_select, f"where {MOMENT} >= %s", [since])

    async def tally(self, codes: Iterable[int], edges: Sequence[datetime]) -> list[Count]:
        return await self._db.read(_tally, sorted(set(codes)), list(edges))

    async def earliest_moment(self) -> datetime | None:
        return await self._db.read(_earliest_moment)

    async def failures(
        self, code: int, since: datetime, until: datetime, segment: Segment | None = None
    ) -> Failures:
        return await self._db.read(_failures, code, since, until, segment)

    async def baseline(
        self, code: int, since: datetime, until: datetime, count_seconds: float | None = None
    ) -> Baseline:
        # A write: the hours it counts for the first time are kept in the rollup.
        return await self._db.write(_baseline, code, since, until, count_seconds)

    async def prune(self, before: datetime, limit: int) -> int:
        return await self._db.write(_prune, before, limit)

    async def segment_windows(
        self, codes: Iterable[int], starts: Sequence[datetime], until: datetime
    ) -> list[Traffic]:
        if not starts:
            return []
        return await self._db.read(segments.windows, sorted(set(codes)), sorted(starts), until)

    async def account_totals(self, since: datetime, until: datetime) -> dict[int, int]:
        return await self._db.read(rollup.account_totals, since, until)

    async def hygiene(self, codes: Iterable[int], streak_code: int, since: datetime) -> Record:
        return await self._db.read(hygiene.record, sorted(set(codes)), streak_code, since)

    async def segment_histories(
        self, code: int, since: datetime, until: datetime
    ) -> dict[Segment, History]:
        return await self._db.read(segments.histories, code, since, until)


def _message_rows(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return list({m.sid: message_row(m) for m in messages}.values())


async def _save(cursor: Cursor, rows: list[dict[str, Any]]) -> int:
    await rollup.lock(cursor)
    await segments.add_carriers(cursor, rows)
    held = await held_rows(cursor, [row["sid"] for row in rows])
    rows = [merged(row, held.get(row["sid"])) for row in rows]
    found = sum(1 for row in rows if news(row, held.get(row["sid"])))
    # Each poll reads the settle window again, and most of it comes back as it was: only
    # what is new or changed is written.
    rows = [row for row in rows if held.get(row["sid"]) != row]
    if not rows:
        return found
    await rollup.adjust_upserts(cursor, rows, held)
    # COPY into a table of this transaction, then one upsert from it: the driver's fast
    # path. Binary, with the types given, is about twice as fast as text (a COPY of
    # 100 000 rows: 0.28 s against 0.51 s, bench/postgres.py drivers).
    await cursor.execute(
        "create temp table incoming (like messages including defaults) on commit drop"
    )
    async with cursor.copy(f"copy incoming ({STORED_NAMES}) from stdin (format binary)") as copy:
        copy.set_types(TYPES)
        for row in rows:
            await copy.write_row(tuple(row.values()))
    await cursor.execute(
        f"insert into messages ({STORED_NAMES}) select {STORED_NAMES} from incoming "
        "on conflict (sid) do update set "
        + ", ".join(f'"{c}" = excluded."{c}"' for c in STORED if c != "sid")
    )
    return found


async def _record_status(cursor: Cursor, message: Message, decided: str | None) -> bool:
    # A known message keeps its dates and gains the new status; an unknown one is stored
    # as it is, and the next poll fills it in.
    await rollup.lock(cursor)
    await cursor.execute(
        f"select {STORED_NAMES}, dlr_done from messages where sid = %s for update", [message.sid]
    )
    found = await cursor.fetchone()
    row = dict(zip(STORED, found, strict=False)) if found else None
    held = message_from_row(row) if row else None
    held_decided = found[-1] if found else None
    if not takes_report(held, message, decided, held_decided):
        return False
    changes: dict[str, Any] = {
        "status": message.status,
        "error_code": message.error_code,
        "date_updated": message.date_updated,
    }
    if message.status in FINAL_STATUSES:
        changes["dlr_done"] = decided
    # A callback's time is when it came, not when the carrier decided: a pushed report
    # later judges this status as the poll's (by the poll's next read).
    changes["status_at"] = None
    if row:
        written = {**row, **changes}
    else:
        written = {**message_row(message), **changes}
        await segments.add_carriers(cursor, [written])
    await rollup.adjust(cursor, [(row, written)])
    if row:
        await cursor.execute(
            "update messages set " + ", ".join(f"{c} = %s" for c in changes) + " where sid = %s",
            [*changes.values(), message.sid],
        )
    else:
        names = ", ".join(f'"{c}"' for c in written)
        await cursor.execute(
            f"insert into messages ({names}) values ({', '.join(['%s'] * len(written))})",
            list(written.values()),
        )
    return True


async def _select(cursor: Cursor, where: str, params: list[object]) -> list[Message]:
    await cursor.execute(f"select {SELECT_NAMES} from messages {where}", params)
    return [
        message_from_row(dict(zip(COLUMNS, row, strict=True))) for row in await cursor.fetchall()
    ]


async def _tally(cursor: Cursor, codes: list[int], edges: list[datetime]) -> list[Count]:
    # One pass over the window: width_bucket puts each message in the span it starts
    # at (the last edge is a span of its own moment).
    if not edges:
        return []
    await cursor.execute(
        f"select width_bucket({MOMENT}, %s::timestamptz[]) as span, "
        "case when error_code = any(%s::int[]) then error_code end as code, count(*) "
        f"from messages where {MOMENT} >= %s and {MOMENT} <= %s and {rollup.FINAL_OUTBOUND} "
        "group by span, code",
        [edges, codes, edges[0], edges[-1]],
    )
    found = [Count(edges[span - 1], code, n) for span, code, n in await cursor.fetchall()]
    found.sort(key=lambda c: (c.moment, c.error_code is None, c.error_code or 0))
    return found


async def _earliest_moment(cursor: Cursor) -> datetime | None:
    await cursor.execute(f"select min({MOMENT}) from messages")
    row = await cursor.fetchone()
    return row[0] if row else None


async def _failures(
    cursor: Cursor, code: int, since: datetime, until: datetime, segment: Segment | None
) -> Failures:
    # Counted here, not read whole; ties broken as `failures.of_messages` breaks them.
    where = f"{MOMENT} >= %s and {MOMENT} <= %s and {rollup.FINAL_OUTBOUND} and error_code = %s"
    found: list[object] = [since, until, code]
    if segment is not None:
        where += f" and {SEGMENT_SQL[segment.kind]} = %s"
        found.append(segment.value)
    await cursor.execute("set transaction isolation level repeatable read")  # one snapshot
    await cursor.execute(f'select "to", count(*) from messages where {where} group by "to"', found)
    recipients = {to: n for to, n in await cursor.fetchall()}
    await cursor.execute(
        "select coalesce(nullif(messaging_service_sid, ''), from_) as sender, count(*) as n "
        f"from messages where {where} group by sender having coalesce(nullif("
        "messaging_service_sid, ''), from_) != '' order by n desc, sender limit %s",
        [*found, failures.TOP],
    )
    senders = tuple((sender, n) for sender, n in await cursor.fetchall())
    await cursor.execute(
        f"select sid from messages where {where} order by {MOMENT} desc, sid desc limit %s",
        [*found, failures.SAMPLES],
    )
    samples = tuple(sid for (sid,) in await cursor.fetchall())
    return Failures(recipients=recipients, senders=senders, samples=samples)


async def _baseline(
    cursor: Cursor, code: int, since: datetime, until: datetime, count_seconds: float | None
) -> Baseline:
    await rollup.lock(cursor)
    final, failed, counted, asked = await rollup.baseline(cursor, code, since, until, count_seconds)
    return Baseline(final=final, failed=failed, hours=counted if counted < asked else None)


async def _prune(cursor: Cursor, before: datetime, limit: int) -> int:
    # Messages by creation, a batch at a time; looked-up numbers by lookup, and the uses.
    await rollup.lock(cursor)
    await cursor.execute(
        "delete from messages where sid in "
        "(select sid from messages where date_created < %s limit %s)",
        [before, limit],
    )
    gone = cursor.rowcount
    await rollup.forget_before(cursor, before)
    await cursor.execute("delete from lookups where looked_up_at < %s", [before])
    await cursor.execute("delete from lookup_uses where at < %s", [before])
    return gone
