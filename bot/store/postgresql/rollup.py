"""Rollup: hourly counts of outbound messages, for the account and each segment, per
error code, beside the messages table, as on SQLite (`bot.store.sqlite.rollup` says why):
an hour is counted when a baseline first needs it, and from then on every write that
changes one of its messages moves its counts, in the same transaction.
"""

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
from bot.store.postgresql.connections import Cursor
from bot.store.postgresql.migrations import MOMENT

FINAL_OUTBOUND = "direction ilike 'outbound%%' and status in ({})".format(
    ", ".join(f"'{status}'" for status in sorted(FINAL_STATUSES))
)

Row = Mapping[str, Any]  # a messages row: its columns


_WRITES_LOCK = 0x6D73_6773  # "msgs": with the schema, the lock every write of messages takes


async def lock(cursor: Cursor) -> None:
    """Take, to the end of the transaction, the lock that writes of messages take one at a
    time, as SQLite's one writer runs them: each moves the rollup's counts from what it
    read as held, so two at once (a replica's `why` beside the watcher's save, a baseline
    counting an hour meanwhile) would both move them from the same rows."""
    await cursor.execute(
        "select pg_advisory_xact_lock(hashtext(current_schema()), %s::int)", [_WRITES_LOCK]
    )


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


async def adjust_upserts(cursor: Cursor, rows: Sequence[Row], held: Mapping[str, Row]) -> None:
    """Before `rows` replace what the table holds under their SIDs (`held`), move the
    counts of counted hours from what is held to what replaces it."""
    hours = {h for row in [*rows, *held.values()] for h in _hours(row)}
    counted = await _counted(cursor, hours)
    if counted:
        await adjust(cursor, [(held.get(str(row["sid"])), row) for row in rows], counted)


async def adjust(
    cursor: Cursor,
    changes: Iterable[tuple[Row | None, Row]],
    counted: set[datetime] | None = None,
) -> None:
    """Move the counts of counted hours for each (row as held or None, row as written)."""
    changes = list(changes)
    if counted is None:
        counted = await _counted(
            cursor, {h for pair in changes for row in pair if row for h in _hours(row)}
        )
    moved: Counter[Key[datetime]] = Counter()
    for before, after in changes:
        moved.subtract(_counts(before))
        moved.update(_counts(after))
    rows = [(*key, n) for key, n in moved.items() if n and key[0] in counted]
    if rows:
        await cursor.executemany(
            f"{_INSERT} on conflict (hour, kind, segment, error_code) do update "
            "set messages = message_hours.messages + excluded.messages",
            rows,
        )


_INSERT = (
    "insert into message_hours (hour, kind, segment, error_code, messages) "
    "values (%s, %s, %s, %s, %s)"
)


def _counts(row: Row | None) -> list[Key[datetime]]:
    return counted_in(row, lambda moment: hour_of(moment) if isinstance(moment, datetime) else None)


def _hours(row: Row) -> set[datetime]:
    moments = (row.get(name) for name in ("date_created", "date_sent"))
    return {hour_of(moment) for moment in moments if isinstance(moment, datetime)}


async def _counted(cursor: Cursor, hours: set[datetime]) -> set[datetime]:
    """Those of `hours` a baseline has counted."""
    if not hours:
        return set()
    await cursor.execute(
        "select hour from message_hours where kind = %s and segment = '' and error_code = %s "
        "and hour = any(%s)",
        [ACCOUNT, TOTAL, sorted(hours)],
    )
    return {hour_of(hour) for (hour,) in await cursor.fetchall()}


async def forget_before(cursor: Cursor, before: datetime) -> None:
    await cursor.execute("delete from message_hours where hour < %s", [hour_of(before)])


async def baseline(
    cursor: Cursor,
    code: int,
    since: datetime,
    until: datetime,
    count_seconds: float | None = None,
) -> tuple[int, int, int, int]:
    """(final outbound messages, those with `code`, hours counted, hours asked for) over
    the whole hours in [since, until), counting hours not counted yet, newest first, for
    at most `count_seconds` (None: all; 0: none; any other budget counts one at least)."""
    hours = whole_hours(since, until)
    if not hours:
        return 0, 0, 0, 0
    await cursor.execute(
        "select hour from message_hours where kind = %s and segment = '' and error_code = %s "
        "and hour >= %s and hour <= %s",
        [ACCOUNT, TOTAL, hours[0], hours[-1]],
    )
    counted = {hour_of(hour) for (hour,) in await cursor.fetchall()}
    missing = [hour for hour in hours if hour not in counted]
    deadline = None if count_seconds is None else time.monotonic() + count_seconds
    for hour in reversed(missing if count_seconds != 0 else []):
        await _count(cursor, hour)
        counted.add(hour)
        if deadline is not None and time.monotonic() >= deadline:
            break
    await cursor.execute(
        "select coalesce(sum(messages) filter (where error_code = %s), 0), "
        "coalesce(sum(messages) filter (where error_code = %s), 0) "
        "from message_hours where kind = %s and segment = '' and hour >= %s and hour <= %s",
        [TOTAL, code, ACCOUNT, hours[0], hours[-1]],
    )
    row = await cursor.fetchone()
    assert row is not None  # an aggregate always has its row
    final, failed = row
    return int(final), int(failed), len(counted), len(hours)


async def _count(cursor: Cursor, hour: datetime) -> None:
    """Count one hour's rows, grouped and counted as on SQLite (`counting.counted_groups`)."""
    await cursor.execute(
        f"select {GROUPS} from messages where {MOMENT} >= %s and {MOMENT} < %s "
        f"and direction ilike 'outbound%%' {GROUP_BY}",
        [hour, hour + HOUR],
    )
    groups = await cursor.fetchall()
    await cursor.executemany(
        _INSERT, [(*row, n) for row, n in counted_groups(hour, groups).items()]
    )


async def account_totals(cursor: Cursor, since: datetime, until: datetime) -> dict[int, int]:
    """The account's rows summed over the counted whole hours of [since, until), as on
    SQLite: error_code (SENT, TOTAL, DELIVERED or a code) to messages."""
    hours = whole_hours(since, until)
    if not hours:
        return {}
    await cursor.execute(
        "select error_code, sum(messages) from message_hours where kind = %s and segment = '' "
        "and hour >= %s and hour <= %s group by error_code",
        [ACCOUNT, hours[0], hours[-1]],
    )
    return {int(code): int(n) for code, n in await cursor.fetchall()}
