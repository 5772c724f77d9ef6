"""Reports in PostgreSQL: a batch of Event Streams status changes, written in one
transaction, each event once (by its CloudEvent id), each message as its latest change
leaves it (`reports.settled`). Same contract as on SQLite."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.domain.reports import Report, settled
from bot.store.postgresql import rollup, segments
from bot.store.postgresql.connections import Cursor
from bot.store.postgresql.rows import held_rows, message_from_row, message_row
from bot.store.values import Recorded

STATUS_AT = "status_at"  # when the change that set the status happened (reports only)


async def record(cursor: Cursor, reports: Sequence[Report], received: datetime) -> Recorded:
    """Store the batch, each event id with the moment it was `received`."""
    await rollup.lock(cursor)
    fresh = await _first_seen(cursor, reports, received)
    by_sid: dict[str, list[Report]] = defaultdict(list)
    for report in fresh:
        by_sid[report.message.sid].append(report)
    held = await held_rows(cursor, list(by_sid))
    changes: list[tuple[dict[str, Any] | None, dict[str, Any]]] = []
    for sid, found in by_sid.items():
        row = held.get(sid)
        before = None if row is None else message_from_row(row)
        kept = settled(before, row[STATUS_AT] if row else None, found)
        if kept is None:
            continue
        changed = {
            "status": kept.message.status,
            "error_code": kept.message.error_code,
            "date_updated": kept.at,
            STATUS_AT: kept.at,
        }
        if row is None:
            # Not seen before: its dates are the first change's until the poll reads it.
            first = min(r.at for r in found)
            row = message_row(
                replace(kept.message, date_created=first, account_sid=kept.account_sid)
            )
            changes.append((None, {**row, **changed}))
        else:
            changes.append((row, {**row, **changed}))
    # Carriers of new rows in one query, not one a row (a round trip each, under the lock).
    await segments.add_carriers(cursor, [after for before, after in changes if before is None])
    await rollup.adjust(cursor, changes)
    written = [after for before, after in changes if before is not None]
    if written:
        await cursor.executemany(
            "update messages set status = %s, error_code = %s, date_updated = %s, "
            "status_at = %s where sid = %s",
            [
                (r["status"], r["error_code"], r["date_updated"], r[STATUS_AT], r["sid"])
                for r in written
            ],
        )
    new = [after for before, after in changes if before is None]
    if new:
        names = list(new[0])
        quoted = ", ".join(f'"{n}"' for n in names)
        await cursor.executemany(
            f"insert into messages ({quoted}) values ({', '.join(['%s'] * len(names))})",
            [tuple(row[n] for n in names) for row in new],
        )
    return Recorded(events=len(fresh), repeated=len(reports) - len(fresh), changed=len(changes))


async def _first_seen(
    cursor: Cursor, reports: Sequence[Report], received: datetime
) -> list[Report]:
    """The reports whose event id was never stored, each once; their ids are stored now."""
    unique = list({r.event_id: r for r in reversed(reports)}.values())[::-1]
    await cursor.execute(
        "insert into stream_events (id, received) select unnest(%s::text[]), %s "
        "on conflict (id) do nothing returning id",
        [[r.event_id for r in unique], received],
    )
    stored = {found for (found,) in await cursor.fetchall()}
    return [r for r in unique if r.event_id in stored]


async def last_received(cursor: Cursor) -> datetime | None:
    await cursor.execute("select max(received) from stream_events")
    row = await cursor.fetchone()
    return row[0] if row else None


async def forget(cursor: Cursor, before: datetime) -> int:
    await cursor.execute("delete from stream_events where received < %s", [before])
    return cursor.rowcount
