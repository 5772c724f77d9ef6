"""Segments in PostgreSQL: a window's final outbound messages grouped by where they went,
and each segment's hours of history from the rollup, as on SQLite."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.domain import traffic
from bot.domain.segments import History, Segment
from bot.domain.traffic import Traffic
from bot.store.counting import ACCOUNT, SENDER_SQL, TOTAL, whole_hours
from bot.store.postgresql import rollup
from bot.store.postgresql.connections import Cursor
from bot.store.postgresql.migrations import MOMENT


async def windows(
    cursor: Cursor, codes: Sequence[int], starts: Sequence[datetime], until: datetime
) -> list[Traffic]:
    """For each of `starts` (oldest first), the final outbound messages of [start, until]
    and the failures among them with each of `codes`, by segment, as on SQLite."""
    where = f"{MOMENT} >= %s and {MOMENT} <= %s and {rollup.FINAL_OUTBOUND}"
    bounds = [starts[0], until]
    # The innermost window each message falls in: the last start it is not before.
    inner = f"width_bucket({MOMENT}, %s::timestamptz[]) - 1"
    places = f"country, {SENDER_SQL}, carrier, account_sid, {inner}"
    starts = list(starts)
    await cursor.execute("set transaction isolation level repeatable read")  # one snapshot
    await cursor.execute(
        f"select {places}, count(*) from messages where {where} group by 1, 2, 3, 4, 5",
        [starts, *bounds],
    )
    totals = await cursor.fetchall()
    await cursor.execute(
        f'select {places}, error_code, "to", count(*) from messages where {where} '
        "and error_code = any(%s) group by 1, 2, 3, 4, 5, 6, 7",
        [starts, *bounds, list(codes)],
    )
    failures = await cursor.fetchall()
    return traffic.traffics(
        len(starts),
        (((c, s, k, a), i, n) for c, s, k, a, i, n in totals),
        (((c, s, k, a), i, code, to, n) for c, s, k, a, i, code, to, n in failures),
    )


async def histories(
    cursor: Cursor, code: int, since: datetime, until: datetime
) -> dict[Segment, History]:
    """Each segment's counted hours within [since, until), for `code`."""
    hours = whole_hours(since, until)
    if not hours:
        return {}
    await cursor.execute(
        "select hour, kind, segment, error_code, messages from message_hours "
        "where kind != %s and hour >= %s and hour <= %s and error_code in (%s, %s)",
        [ACCOUNT, hours[0], hours[-1], TOTAL, code],
    )
    return traffic.histories(await cursor.fetchall(), code, TOTAL)


async def add_carriers(cursor: Cursor, rows: list[dict[str, Any]]) -> None:
    """Each row's carrier, as the lookup cache knows its number now (None if it does not)."""
    await cursor.execute(
        "select phone_number, carrier_name from lookups where carrier_name != '' "
        "and phone_number = any(%s)",
        [sorted({row["to"] for row in rows})],
    )
    known: dict[str, str] = dict(await cursor.fetchall())
    for row in rows:
        row["carrier"] = known.get(row["to"])
