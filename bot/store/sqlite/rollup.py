"""Rollup: hourly counts of outbound messages, for the account and each segment, per
error code (`bot.store.counting` says which rows), kept beside the messages table, so a
7-day baseline is a sum over small rows rather than a scan of every message of the week
(bench/detection.py: 7 s against 7 000 000 messages).

A store helper over its connection: an hour is counted when a baseline first needs it,
and from then on kept up to date: a write that changes a message of a counted hour moves
its counts (`adjust`), so the hour is never counted again. (Forgetting the hour instead
made a burst of `why SM…`, each writing a recipient's history, cost the next cycle seconds
of recounting.)
"""

import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.domain.messages import FINAL_STATUSES
from bot.store.counting import (
    ACCOUNT,
    GROUP_BY,
    GROUPS,
    HOUR,
    TOTAL,
    Key,
    counted_groups,
    counted_in,
    whole_hours,
)
from bot.store.encoding import iso
from bot.store.sqlite.migrations import MOMENT

FINAL_OUTBOUND = "direction like 'outbound%' and status in ({})".format(
    ", ".join(f"'{status}'" for status in sorted(FINAL_STATUSES))
)


def hour_of(moment: datetime) -> str:
    """The hour's key: its start as ISO 8601 in UTC to the hour, e.g. 2026-11-23T10."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")


Row = Mapping[str, Any]  # a messages row: its columns, dates as text
CHUNK = 500  # values a statement binds at once


def adjust_upserts(conn: sqlite3.Connection, rows: Sequence[Row], held: Mapping[str, Row]) -> None:
    """Before `rows` replace what the table holds under their SIDs (`held`, from `held`;
    one row a SID: the caller keeps the last of several), move the counts of counted
    hours from what is held to what replaces it. What is held may count in another hour
    than its replacement (a StatusCallback's row has no send time, and the poll's does),
    so both are read."""
    hours = {h for row in [*rows, *held.values()] for h in _hours(row)}
    counted = _counted(conn, hours)
    if counted:  # usually not: new messages, in hours no baseline has counted yet
        adjust(conn, [(held.get(str(row["sid"])), row) for row in rows], counted)


def adjust(
    conn: sqlite3.Connection,
    changes: Iterable[tuple[Row | None, Row]],
    counted: set[str] | None = None,
) -> None:
    """Move the counts of counted hours for each (row as held or None, row as written)."""
    changes = list(changes)
    if counted is None:
        counted = _counted(
            conn, {h for pair in changes for row in pair if row for h in _hours(row)}
        )
    moved: Counter[Key[str]] = Counter()
    for before, after in changes:
        moved.subtract(_counts(before))
        moved.update(_counts(after))
    conn.executemany(
        "insert into message_hours (hour, kind, segment, error_code, messages) "
        "values (?, ?, ?, ?, ?) on conflict (hour, kind, segment, error_code) "
        "do update set messages = messages + excluded.messages",
        [(*key, n) for key, n in moved.items() if n and key[0] in counted],
    )


def _counts(row: Row | None) -> list[Key[str]]:
    return counted_in(row, lambda moment: moment[:13] if isinstance(moment, str) else None)


def _hours(row: Row) -> set[str]:
    moments = (row.get(name) for name in ("date_created", "date_sent"))
    return {moment[:13] for moment in moments if isinstance(moment, str)}


def _counted(conn: sqlite3.Connection, hours: set[str]) -> set[str]:
    """Those of `hours` a baseline has counted."""
    found: set[str] = set()
    ordered = sorted(hours)
    for i in range(0, len(ordered), CHUNK):
        chunk = ordered[i : i + CHUNK]
        found |= {
            row[0]
            for row in conn.execute(
                "select hour from message_hours where kind = ? and segment = '' and "
                f"error_code = ? and hour in ({', '.join('?' * len(chunk))})",
                [ACCOUNT, TOTAL, *chunk],
            )
        }
    return found


def held(conn: sqlite3.Connection, sids: list[str], columns: Sequence[str]) -> dict[str, Row]:
    """The rows the table holds under `sids`, by SID: `columns`, the first being sid."""
    found: dict[str, Row] = {}
    for i in range(0, len(sids), CHUNK):
        chunk = sids[i : i + CHUNK]
        cursor = conn.execute(
            f"select {', '.join(f'[{c}]' for c in columns)} from messages "
            f"where sid in ({', '.join('?' * len(chunk))})",
            chunk,
        )
        found |= {row[0]: dict(zip(columns, row, strict=True)) for row in cursor}
    return found


def forget_before(conn: sqlite3.Connection, before: datetime) -> None:
    conn.execute("delete from message_hours where hour < ?", [hour_of(before)])


def baseline(
    conn: sqlite3.Connection,
    code: int,
    since: datetime,
    until: datetime,
    count_seconds: float | None = None,
) -> tuple[int, int, int, int]:
    """(final outbound messages, those with `code`, hours counted, hours asked for) over
    the whole hours in [since, until). Call it inside a transaction: hours not yet counted
    are counted and kept, newest first, for at most `count_seconds` (None: all; 0: none;
    any other budget counts one hour at least), so a week's first count (seconds at a
    million messages a day) is spread over several calls while a small account's is done
    in one."""
    hours = whole_hours(since, until)
    if not hours:
        return 0, 0, 0, 0
    keys = [hour_of(h) for h in hours]
    counted = {
        row[0]
        for row in conn.execute(
            "select hour from message_hours where kind = ? and segment = '' and "
            "error_code = ? and hour >= ? and hour <= ?",
            [ACCOUNT, TOTAL, keys[0], keys[-1]],
        )
    }
    missing = [(h, k) for h, k in zip(hours, keys, strict=True) if k not in counted]
    deadline = None if count_seconds is None else time.monotonic() + count_seconds
    for hour, key in reversed(missing if count_seconds != 0 else []):
        _count(conn, hour, key)
        counted.add(key)
        if deadline is not None and time.monotonic() >= deadline:
            break
    [(final, failed)] = conn.execute(
        "select coalesce(sum(case when error_code = ? then messages end), 0), "
        "coalesce(sum(case when error_code = ? then messages end), 0) "
        "from message_hours where kind = ? and segment = '' and hour >= ? and hour <= ?",
        [TOTAL, code, ACCOUNT, keys[0], keys[-1]],
    ).fetchall()
    return int(final), int(failed), len(counted), len(keys)


def _count(conn: sqlite3.Connection, hour: datetime, key: str) -> None:
    """Count one hour's rows: its outbound messages grouped by what the rollup tells apart,
    each group counted as `counting.counted_in` counts one message, so the rows a count
    makes are the rows the writes after it move."""
    groups = conn.execute(
        f"select {GROUPS} from messages where {MOMENT} >= ? and {MOMENT} < ? "
        f"and direction like 'outbound%' {GROUP_BY}",
        [iso(hour), iso(hour + HOUR)],
    )
    conn.executemany(
        "insert into message_hours (hour, kind, segment, error_code, messages) "
        "values (?, ?, ?, ?, ?)",
        [(*row, n) for row, n in counted_groups(key, groups).items()],
    )


def account_totals(conn: sqlite3.Connection, since: datetime, until: datetime) -> dict[int, int]:
    """The account's rows summed over the whole hours of [since, until) that are counted:
    error_code (SENT, TOTAL, DELIVERED or a code) to messages."""
    hours = whole_hours(since, until)
    if not hours:
        return {}
    rows = conn.execute(
        "select error_code, sum(messages) from message_hours where kind = ? and segment = '' "
        "and hour >= ? and hour <= ? group by error_code",
        [ACCOUNT, hour_of(hours[0]), hour_of(hours[-1])],
    )
    return {int(code): int(n) for code, n in rows}
