"""Reports in SQLite: a batch of Event Streams status changes, written in one
transaction, each event once (by its CloudEvent id), each message as its latest change
leaves it (`reports.settled`)."""

import sqlite3
from collections.abc import Sequence
from datetime import datetime

import sqlite_utils

from bot.domain.reports import Report
from bot.store.merging import by_message, reported
from bot.store.sqlite import rollup, segments
from bot.store.sqlite.migrations import iso_or_none
from bot.store.sqlite.rows import MESSAGE_COLUMNS, message_from_row, message_row
from bot.store.values import Recorded


def record(db: sqlite_utils.Database, reports: Sequence[Report], received: datetime) -> Recorded:
    """Store the batch, each event id with the moment it was `received`."""
    with db.atomic():
        fresh = _first_seen(db.conn, reports, iso_or_none(received) or "")
        grouped = by_message(fresh)
        held = rollup.held(db.conn, list(grouped), MESSAGE_COLUMNS)
        changes = reported(grouped, held, message_from_row, message_row, iso_or_none)
        # Carriers of new rows in one query, not one a row.
        segments.add_carriers(db.conn, [after for before, after in changes if before is None])
        rollup.adjust(db.conn, changes)
        written = [after for before, after in changes if before is not None]
        db.conn.executemany(
            "update messages set status = ?, error_code = ?, date_updated = ?, status_at = ? "
            "where sid = ?",
            [
                (r["status"], r["error_code"], r["date_updated"], r["status_at"], r["sid"])
                for r in written
            ],
        )
        new = [after for before, after in changes if before is None]
        if new:
            names = list(new[0])
            db.conn.executemany(
                f"insert into messages ({', '.join(f'[{n}]' for n in names)}) "
                f"values ({', '.join('?' * len(names))})",
                [tuple(row[n] for n in names) for row in new],
            )
    return Recorded(events=len(fresh), repeated=len(reports) - len(fresh), changed=len(changes))


def _first_seen(conn: sqlite3.Connection, reports: Sequence[Report], received: str) -> list[Report]:
    """The reports whose event id was never stored, each once; their ids are stored now."""
    unique = list({r.event_id: r for r in reversed(reports)}.values())[::-1]
    ids = [r.event_id for r in unique]
    known: set[str] = set()
    for i in range(0, len(ids), rollup.CHUNK):
        chunk = ids[i : i + rollup.CHUNK]
        known |= {
            found
            for (found,) in conn.execute(
                f"select id from stream_events where id in ({', '.join('?' * len(chunk))})",
                chunk,
            )
        }
    fresh = [r for r in unique if r.event_id not in known]
    conn.executemany(
        "insert into stream_events (id, received) values (?, ?)",
        [(r.event_id, received) for r in fresh],
    )
    return fresh


def last_received(db: sqlite_utils.Database) -> datetime | None:
    [(moment,)] = db.execute("select max(received) from stream_events").fetchall()
    return datetime.fromisoformat(moment) if moment else None


def forget(db: sqlite_utils.Database, before: datetime) -> int:
    with db.atomic():
        return db.execute(
            "delete from stream_events where received < ?", [iso_or_none(before)]
        ).rowcount
