"""Rows: how a message is written as a row of PostgreSQL's messages table, and read
back; one encoding for the poll's upserts and the stream's reports."""

from typing import Any

from bot.domain import failures
from bot.domain.messages import Message
from bot.store.postgresql.connections import Cursor

COLUMNS = (
    "sid",
    "status",
    "to",
    "from_",
    "direction",
    "error_code",
    "messaging_service_sid",
    "num_segments",
    "price",
    "date_created",
    "date_sent",
    "date_updated",
    "account_sid",
)
SELECT_NAMES = ", ".join(f'"{c}"' for c in COLUMNS)
# What the store keeps of a message beyond the Message: where it went, as it was stored.
STORED = (*COLUMNS, "country", "carrier", "status_at")
STORED_NAMES = ", ".join(f'"{c}"' for c in STORED)
# The binary COPY's types, in STORED's order.
TYPES = [*["text"] * 5, "int4", "text", "int4", "text", *["timestamptz"] * 3, "text"]
TYPES += ["text", "text", "timestamptz"]  # country, carrier, status_at
CHUNK = 10_000  # SIDs a statement asks about at once


async def held_rows(
    cursor: Cursor, sids: list[str], more: tuple[str, ...] = ()
) -> dict[str, dict[str, Any]]:
    """The rows held under `sids`, by SID: the STORED columns, and `more`."""
    names = (*STORED, *more)
    quoted = ", ".join(f'"{n}"' for n in names)
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(sids), CHUNK):
        await cursor.execute(
            f"select {quoted} from messages where sid = any(%s)",
            [sids[i : i + CHUNK]],
        )
        found |= {row[0]: dict(zip(names, row, strict=True)) for row in await cursor.fetchall()}
    return found


def message_row(m: Message) -> dict[str, Any]:
    # Written out rather than built from fields(Message): a backfill calls this 100 000 times.
    return {
        "sid": m.sid,
        "status": m.status,
        "to": m.to,
        "from_": m.from_,
        "direction": m.direction,
        "error_code": m.error_code,
        "messaging_service_sid": m.messaging_service_sid,
        "num_segments": m.num_segments,
        "price": m.price,
        "date_created": m.date_created,
        "date_sent": m.date_sent,
        "date_updated": m.date_updated,
        "account_sid": m.account_sid,
        "country": failures.country(m.to) or None,
        "carrier": None,  # from the lookup cache, in the writing transaction
        "status_at": None,  # when the change that set the status happened (merging)
    }


def message_from_row(row: dict[str, Any]) -> Message:
    return Message(**{name: row[name] for name in COLUMNS})
