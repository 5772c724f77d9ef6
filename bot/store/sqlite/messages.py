"""Messages in SQLite: what the watcher, `why SM…` and StatusCallback have seen, and the
hourly rollup that keeps a week's baseline cheap."""

import asyncio
from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlite_utils

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
from bot.store.sqlite import hygiene, rollup, segments
from bot.store.sqlite import reports as stream
from bot.store.sqlite.connections import Connections
from bot.store.sqlite.migrations import MOMENT, iso_or_none
from bot.store.sqlite.rows import MESSAGE_COLUMNS, UPSERT_MESSAGE, message_from_row, message_row
from bot.store.values import Recorded


class SqliteMessages:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def save(self, messages: Sequence[Message]) -> int:
        # One row a SID, the last given (as the upsert would leave it): the rollup moves
        # each message's counts once. Built on a thread of its own: reading the country of
        # numbers not seen before costs about 35 us each.
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
        return await self._db.read(_to_number, to, since, limit)

    async def by_sid(self, sids: Iterable[str]) -> list[Message]:
        wanted = list(sids)
        return await self._db.read(_by_sid, wanted) if wanted else []

    async def recent(self, since: datetime) -> list[Message]:
        return await self._db.read(_recent, since)

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
        return await self._db.read(lambda db: rollup.account_totals(db.conn, since, until))

    async def hygiene(self, codes: Iterable[int], streak_code: int, since: datetime) -> Record:
        return await self._db.read(hygiene.record, sorted(set(codes)), streak_code, since)

    async def segment_histories(
        self, code: int, since: datetime, until: datetime
    ) -> dict[Segment, History]:
        return await self._db.read(segments.histories, code, since, until)


def _message_rows(messages: Sequence[Message]) -> list[dict[str, object]]:
    return list({m.sid: message_row(m) for m in messages}.values())


def _save(db: sqlite_utils.Database, rows: list[dict[str, object]]) -> int:
    with db.atomic():
        segments.add_carriers(db.conn, rows)
        held = rollup.held(db.conn, [str(row["sid"]) for row in rows], MESSAGE_COLUMNS)
        rows = [merged(row, held.get(str(row["sid"]))) for row in rows]
        found = sum(1 for row in rows if news(row, held.get(str(row["sid"]))))
        # Each poll reads the settle window again (21 000 messages a cycle at 1 M a day),
        # and most come back as they were: rewriting those cost the writer 2 to 3 s a
        # cycle. Only what is new or changed is written.
        rows = [row for row in rows if held.get(str(row["sid"])) != row]
        rollup.adjust_upserts(db.conn, rows, held)
        db.conn.executemany(UPSERT_MESSAGE, [tuple(row.values()) for row in rows])
    return found


def _record_status(db: sqlite_utils.Database, message: Message, decided: str | None) -> bool:
    # A known message keeps its dates and gains the new status; an unknown one is stored
    # as it is, and the next poll fills it in.
    table = db.table("messages")
    with db.atomic():
        rows = list(table.rows_where("sid = ?", [message.sid]))
        held = message_from_row(rows[0]) if rows else None
        held_decided = rows[0].get("dlr_done") if rows else None
        if not takes_report(held, message, decided, held_decided):
            return False
        changes: dict[str, object] = {
            "status": message.status,
            "error_code": message.error_code,
            "date_updated": iso_or_none(message.date_updated),
        }
        if message.status in FINAL_STATUSES:
            changes["dlr_done"] = decided
        # A callback's time is when it came, not when the carrier decided: a pushed
        # report later judges this status as the poll's (by the poll's next read).
        changes["status_at"] = None
        if rows:
            written = {**rows[0], **changes}
        else:
            written = {**message_row(message), **changes}
            segments.add_carriers(db.conn, [written])
        rollup.adjust(db.conn, [(rows[0] if rows else None, written)])
        if rows:
            table.update(message.sid, changes)
        else:
            table.insert(written)
    return True


def _to_number(db: sqlite_utils.Database, to: str, since: datetime, limit: int) -> list[Message]:
    rows = db.table("messages").rows_where(
        "[to] = ? and date_sent >= ?",
        [to, iso_or_none(since)],
        order_by="date_sent desc",
        limit=limit,
    )
    return [message_from_row(row) for row in rows]


def _by_sid(db: sqlite_utils.Database, sids: list[str]) -> list[Message]:
    rows = db.table("messages").rows_where(f"sid in ({', '.join('?' * len(sids))})", sids)
    return [message_from_row(row) for row in rows]


def _recent(db: sqlite_utils.Database, since: datetime) -> list[Message]:
    rows = db.table("messages").rows_where(f"{MOMENT} >= ?", [iso_or_none(since)])
    return [message_from_row(row) for row in rows]


def _tally(db: sqlite_utils.Database, codes: list[int], edges: list[datetime]) -> list[Count]:
    # Counted between the edges, not by moment: grouping an hour of a busy account by
    # second cost 90 ms at 1 M messages a day, a range count per span costs a few. The
    # totals come from the moments index, the codes from the failures index.
    found = []
    moments = [iso_or_none(edge) for edge in edges]
    with db.atomic():  # one snapshot for every span
        for i, edge in enumerate(edges):
            # Each span up to the next edge; the last edge is a span of its own moment.
            last = i + 1 == len(edges)
            upper = "<=" if last else "<"
            within = f"{MOMENT} >= ? and {MOMENT} {upper} ? and {rollup.FINAL_OUTBOUND}"
            bounds = [moments[i], moments[i] if last else moments[i + 1]]
            [(total,)] = db.execute(f"select count(*) from messages where {within}", bounds)
            for code in codes:
                [(failed,)] = db.execute(
                    f"select count(*) from messages where error_code = ? and {within}",
                    [code, *bounds],
                )
                if failed:
                    found.append(Count(edge, code, failed))
                    total -= failed
            if total:
                found.append(Count(edge, None, total))
    return found


def _earliest_moment(db: sqlite_utils.Database) -> datetime | None:
    [(moment,)] = db.execute(f"select min({MOMENT}) from messages").fetchall()
    return datetime.fromisoformat(moment) if moment else None


def _failures(
    db: sqlite_utils.Database,
    code: int,
    since: datetime,
    until: datetime,
    segment: Segment | None,
) -> Failures:
    # Counted here, not read whole: a spike at 1 M messages a day is about 1 600 rows in
    # the window, and building a Message of each cost most of an evaluation. Ties are
    # broken as `failures.of_messages` breaks them.
    where = f"{MOMENT} >= ? and {MOMENT} <= ? and {rollup.FINAL_OUTBOUND} and error_code = ?"
    found: list[object] = [iso_or_none(since), iso_or_none(until), code]
    if segment is not None:
        where += f" and {SEGMENT_SQL[segment.kind]} = ?"
        found.append(segment.value)
    with db.atomic():  # one snapshot for the three
        recipients = db.execute(
            f"select [to], count(*) from messages where {where} group by [to]", found
        ).fetchall()
        senders = db.execute(
            "select coalesce(nullif(messaging_service_sid, ''), from_) as sender, count(*) as n "
            f"from messages where {where} group by sender having sender != '' "
            "order by n desc, sender limit ?",
            [*found, failures.TOP],
        ).fetchall()
        samples = db.execute(
            f"select sid from messages where {where} order by {MOMENT} desc, sid desc limit ?",
            [*found, failures.SAMPLES],
        ).fetchall()
    return Failures(
        recipients=dict(recipients),
        senders=tuple((sender, n) for sender, n in senders),
        samples=tuple(sid for (sid,) in samples),
    )


def _baseline(
    db: sqlite_utils.Database,
    code: int,
    since: datetime,
    until: datetime,
    count_seconds: float | None,
) -> Baseline:
    with db.atomic():
        final, failed, counted, asked = rollup.baseline(db.conn, code, since, until, count_seconds)
    # Hours not counted yet leave the baseline resting on less history: say how much.
    return Baseline(final=final, failed=failed, hours=counted if counted < asked else None)


def _prune(db: sqlite_utils.Database, before: datetime, limit: int) -> int:
    # Messages by creation, a batch at a time: a day of a busy account in one go held the
    # write lock for seconds. Looked-up numbers by lookup, and the lookup uses.
    moment = iso_or_none(before)
    with db.atomic():
        cursor = db.execute(
            "delete from messages where rowid in "
            "(select rowid from messages where date_created < ? limit ?)",
            [moment, limit],
        )
        rollup.forget_before(db.conn, before)
        db.execute("delete from lookups where looked_up_at < ?", [moment])
        db.execute("delete from lookup_uses where at < ?", [moment])
    return cursor.rowcount
