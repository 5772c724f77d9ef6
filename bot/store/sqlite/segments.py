"""Segments in SQLite: a window's final outbound messages grouped by where they went, and
each segment's hours of history from the rollup, for detection per segment."""

import sqlite3
from collections.abc import Sequence
from datetime import datetime

import sqlite_utils

from bot.domain import traffic
from bot.domain.segments import History, Segment
from bot.domain.traffic import Traffic
from bot.store.counting import ACCOUNT, SENDER_SQL, TOTAL, whole_hours
from bot.store.sqlite import rollup
from bot.store.sqlite.migrations import MOMENT, iso_or_none


def windows(
    db: sqlite_utils.Database, codes: Sequence[int], starts: Sequence[datetime], until: datetime
) -> list[Traffic]:
    """For each of `starts` (oldest first), the final outbound messages of [start, until]
    and the failures among them with each of `codes`, by segment: one pass over the
    longest window."""
    moments = [iso_or_none(start) for start in starts]
    where = f"{MOMENT} >= ? and {MOMENT} <= ? and {rollup.FINAL_OUTBOUND}"
    bounds = [moments[0], iso_or_none(until)]
    # The innermost window each message falls in: the last start it is not before.
    inner = " ".join(f"when {MOMENT} >= ? then {i}" for i in reversed(range(len(starts))))
    inner_values = list(reversed(moments))
    places = f"country, {SENDER_SQL}, carrier, account_sid, case {inner} else 0 end"
    with db.atomic():  # one snapshot for both
        totals = db.execute(
            f"select {places}, count(*) from messages where {where} group by 1, 2, 3, 4, 5",
            [*inner_values, *bounds],
        ).fetchall()
        failures = db.execute(
            f"select {places}, error_code, [to], count(*) from messages where {where} "
            f"and error_code in ({', '.join('?' * len(codes))}) group by 1, 2, 3, 4, 5, 6, 7",
            [*inner_values, *bounds, *codes],
        ).fetchall()
    return traffic.traffics(
        len(starts),
        (((c, s, k, a), i, n) for c, s, k, a, i, n in totals),
        (((c, s, k, a), i, code, to, n) for c, s, k, a, i, code, to, n in failures),
    )


def histories(
    db: sqlite_utils.Database, code: int, since: datetime, until: datetime
) -> dict[Segment, History]:
    """Each segment's counted hours within [since, until), for `code`."""
    hours = whole_hours(since, until)
    if not hours:
        return {}
    rows = db.execute(
        "select hour, kind, segment, error_code, messages from message_hours "
        "where kind != ? and hour >= ? and hour <= ? and error_code in (?, ?)",
        [ACCOUNT, rollup.hour_of(hours[0]), rollup.hour_of(hours[-1]), TOTAL, code],
    ).fetchall()
    return traffic.histories(rows, code, TOTAL)


def add_carriers(conn: sqlite3.Connection, rows: list[dict[str, object]]) -> None:
    """Each row's carrier, as the lookup cache knows its number now (None if it does not)."""
    numbers = sorted({str(row["to"]) for row in rows})
    known: dict[str, str] = {}
    for i in range(0, len(numbers), rollup.CHUNK):
        chunk = numbers[i : i + rollup.CHUNK]
        known |= dict(
            conn.execute(
                "select phone_number, carrier_name from lookups where carrier_name != '' "
                f"and phone_number in ({', '.join('?' * len(chunk))})",
                chunk,
            )
        )
    for row in rows:
        row["carrier"] = known.get(str(row["to"]))
