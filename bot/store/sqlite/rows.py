"""Rows: how a message is written as a row of SQLite's messages table, and read back;
one encoding for the poll's upserts and the stream's reports."""

from datetime import datetime

from bot.domain import failures
from bot.domain.messages import Message
from bot.store.sqlite.migrations import iso_or_none

# The store's own columns beside a Message's: where it went, how the carrier decided,
# and when the report that set its status happened.
STORED_ONLY = ("dlr_done", "country", "carrier", "status_at")


def message_row(m: Message) -> dict[str, object]:
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
        "date_created": iso_or_none(m.date_created),
        "date_sent": iso_or_none(m.date_sent),
        "date_updated": iso_or_none(m.date_updated),
        "account_sid": m.account_sid,
        "country": failures.country(m.to) or None,
        "carrier": None,  # from the lookup cache, in the writing transaction
        "status_at": None,  # when the change that set the status happened (merging)
    }


# One prepared statement for a batch: sqlite-utils' upsert_all builds its SQL per chunk
# and costs about 50 µs a row, which a backfill of 100 000 messages feels.
MESSAGE_COLUMNS = tuple(message_row(Message("", "", "", "", "")))
UPSERT_MESSAGE = (
    f"insert into messages ({', '.join(f'[{c}]' for c in MESSAGE_COLUMNS)}) "
    f"values ({', '.join('?' * len(MESSAGE_COLUMNS))}) on conflict(sid) do update set "
    + ", ".join(f"[{c}] = excluded.[{c}]" for c in MESSAGE_COLUMNS if c != "sid")
)


def message_from_row(row: dict[str, object]) -> Message:
    values = dict(row)
    for stored in STORED_ONLY:  # the store's, not the message's
        values.pop(stored, None)
    for name in ("date_created", "date_sent", "date_updated"):
        text = values[name]
        values[name] = datetime.fromisoformat(text) if isinstance(text, str) else None
    return Message(**values)  # type: ignore[arg-type]
