"""Reports in PostgreSQL: a batch of Event Streams status changes, written in one
transaction, each event once (by its CloudEvent id), each message as its latest change
leaves it (`reports.settled`). Same contract as on SQLite."""

from collections.abc import Sequence
from datetime import datetime

from bot.domain.reports import Report
from bot.store.merging import by_message, reported
from bot.store.postgresql import rollup, segments
from bot.store.postgresql.connections import Cursor
from bot.store.postgresql.rows import held_rows, message_from_row, message_row
from bot.store.values import Recorded


async def record(cursor: Cursor, reports: Sequence[Report], received: datetime) -> Recorded:
    """Store the batch, each event id with the moment it was `received`."""
    await rollup.lock(cursor)
    fresh = await _first_seen(cursor, reports, received)
    grouped = by_message(fresh)
    held = await held_rows(cursor, list(grouped))
    changes = reported(grouped, held, message_from_row, message_row, lambda moment: moment)
    # Carriers of new rows in one query, not one a row (a round trip each, under the lock).
    await segments.add_carriers(cursor, [after for before, after in changes if before is None])
    await rollup.adjust(cursor, changes)
    written = [after for before, after in changes if before is not None]
    if written:
        await cursor.executemany(
            "update messages set status = %s, error_code = %s, date_updated = %s, "
            "status_at = %s where sid = %s",
            [
                (r["status"], r["error_code"], r["date_updated"], r["status_at"], r["sid"])
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
