"""Rollup: hourly counts of final outbound messages, per error code, kept beside the
messages table, so a 7-day baseline is a sum over 168 small rows rather than a scan of
every message of the week (bench/detection.py: 7 s against 7 000 000 messages).

A store helper over its connection: an hour is counted when a baseline first needs it,
and forgotten whenever a message of that hour is written again, to be counted afresh.
"""

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from bot.domain.messages import FINAL_STATUSES
from bot.store.sqlite.migrations import MOMENT, iso

TOTAL = -1  # the error_code of an hour's row counting all its final outbound messages
HOUR = timedelta(hours=1)
FINAL_OUTBOUND = "direction like 'outbound%' and status in ({})".format(
    ", ".join(f"'{status}'" for status in sorted(FINAL_STATUSES))
)


def hour_of(moment: datetime) -> str:
    """The hour's key: its start as ISO 8601 in UTC to the hour, e.g. 2026-11-23T10."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")


def forget(conn: sqlite3.Connection, hours: Iterable[str]) -> None:
    """Drop the counts of `hours`, whose messages changed."""
    conn.executemany("delete from message_hours where hour = ?", [(h,) for h in set(hours)])


def forget_before(conn: sqlite3.Connection, before: datetime) -> None:
    conn.execute("delete from message_hours where hour < ?", [hour_of(before)])


def baseline(
    conn: sqlite3.Connection, code: int, since: datetime, until: datetime
) -> tuple[int, int]:
    """(final outbound messages, those with `code`) over the whole hours in [since, until).
    Call it inside a transaction: hours not yet counted are counted and kept."""
    first = _floor(since) + (HOUR if _floor(since) < since else timedelta())
    hours = []
    start = first
    while start + HOUR <= until:
        hours.append(start)
        start += HOUR
    if not hours:
        return 0, 0
    keys = [hour_of(h) for h in hours]
    counted = {
        row[0]
        for row in conn.execute(
            "select hour from message_hours where error_code = ? and hour >= ? and hour <= ?",
            [TOTAL, keys[0], keys[-1]],
        )
    }
    for hour, key in zip(hours, keys, strict=True):
        if key not in counted:
            _count(conn, hour, key)
    [(final, failed)] = conn.execute(
        "select coalesce(sum(case when error_code = ? then final end), 0), "
        "coalesce(sum(case when error_code = ? then final end), 0) "
        "from message_hours where hour >= ? and hour <= ?",
        [TOTAL, code, keys[0], keys[-1]],
    ).fetchall()
    return int(final), int(failed)


def _count(conn: sqlite3.Connection, hour: datetime, key: str) -> None:
    bounds = [iso(hour), iso(hour + HOUR)]
    where = f"{MOMENT} >= ? and {MOMENT} < ? and {FINAL_OUTBOUND}"
    conn.execute(
        f"insert into message_hours select ?, ?, count(*) from messages where {where}",
        [key, TOTAL, *bounds],
    )
    conn.execute(
        "insert into message_hours select ?, error_code, count(*) from messages "
        f"where {where} and error_code is not null group by error_code",
        [key, *bounds],
    )


def _floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
