"""Messages: a Twilio message record, what its status means, and how runs of them count.

Pure: values in, values out. The report `why SM…` gives is in `message_report`.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.domain import policy

FINAL_STATUSES = frozenset({"delivered", "undelivered", "failed"})

STATUS_MEANINGS = {
    "queued": "Waiting in Twilio's queue to be sent.",
    "accepted": "Accepted for a Messaging Service; Twilio is choosing a sender.",
    "scheduled": "Scheduled to be sent later.",
    "sending": "Twilio is handing it to the carrier.",
    "sent": "The carrier took it; no delivery receipt yet, and some carriers never send one.",
    "delivered": "The carrier confirmed it reached the handset.",
    "undelivered": "The carrier reported it could not deliver it; the error code is its reason.",
    "failed": "It never left Twilio, so no carrier saw it.",
    "receiving": "An incoming message Twilio is still receiving.",
    "received": "An incoming message, received by Twilio.",
    "read": "The recipient read it (channels with read receipts).",
    "partially_delivered": "Only part of it was delivered.",
    "canceled": "A scheduled message, canceled before it was sent.",
}

_SID = re.compile(r"(SM|MM)[0-9a-f]{32}")


@dataclass(frozen=True)
class Message:
    sid: str
    status: str
    to: str
    from_: str
    direction: str
    error_code: int | None = None
    error_message: str | None = None
    messaging_service_sid: str | None = None
    num_segments: int | None = None
    price: str | None = None
    price_unit: str | None = None
    date_created: datetime | None = None
    date_sent: datetime | None = None
    date_updated: datetime | None = None
    account_sid: str | None = None  # the account (or subaccount) that sent it


def sid_problem(text: str) -> str:
    """Why `text` cannot be a Message SID, or "" when it can. Checked before any API call."""
    if _SID.fullmatch(text):
        return ""
    if text[:2].upper() not in ("SM", "MM"):
        return "Message SIDs start with `SM` (SMS) or `MM` (MMS)."
    if len(text) != 34:
        return f"A Message SID is 34 characters long; this one has {len(text)}."
    if text[:2] not in ("SM", "MM"):
        return "The `SM`/`MM` prefix of a Message SID is upper case."
    return "After `SM`/`MM`, a Message SID has 32 characters of 0-9 and a-f."


def count_streak(newest_first: Sequence[Message], now: datetime, within: timedelta) -> int:
    """30003s in a row, from the most recent final message back, within `within`."""
    streak = 0
    for m in newest_first:
        if m.status not in FINAL_STATUSES:
            continue
        if when(m) < now - within or m.error_code != policy.STREAK_CODE:
            break
        streak += 1
    return streak


def takes_report(
    held: Message | None,
    report: Message,
    decided: str | None = None,
    held_decided: str | None = None,
) -> bool:
    """Whether a status report (a StatusCallback) should change the message as held.

    Reports come out of order and are sent again (Twilio retries callbacks), so: a final
    status is never replaced by one that is not final; the same status and code again
    changes nothing; and one final status replaces another only when both came from
    callbacks that say when the carrier decided (Twilio's RawDlrDoneDate, YYMMDDhhmm) and
    this one decided later. That field has no time zone (it is the carrier's), so it is
    compared only with another of its own, never with Twilio's clock. The poll, which
    reads Twilio's current state, corrects anything else."""
    if held is None:
        return True
    if (held.status, held.error_code) == (report.status, report.error_code):
        return False
    if held.status not in FINAL_STATUSES:
        return True
    if report.status not in FINAL_STATUSES:
        return False
    return decided is not None and held_decided is not None and decided > held_decided


def describe(m: Message) -> str:
    """One line for a list of messages: when, status, error code."""
    return f"{utc(when(m))} · `{m.status}`" + (f" · {m.error_code}" if m.error_code else "")


def utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "unknown"


def when(m: Message) -> datetime:
    moment = m.date_sent or m.date_created
    assert moment is not None, "Twilio always sets date_created"
    return moment
