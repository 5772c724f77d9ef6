"""Reports: status changes Twilio pushes (Event Streams), and which of them change a
message as the store holds it.

Pure. Twilio delivers events at least once and in no particular order, retrying a batch
for hours, so the same change comes twice and an early one comes late. `takes_report`
decides with the time each change happened, not the time it arrived.
"""

from dataclasses import dataclass
from datetime import datetime

from bot.domain.messages import FINAL_STATUSES, Message

# How far along its way each status puts a message: a report that moves it back is late.
PROGRESS = {
    "scheduled": 0,
    "accepted": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    **dict.fromkeys(FINAL_STATUSES, 4),
    "read": 5,
}


@dataclass(frozen=True)
class Report:
    """One status change: the CloudEvent's `id` (the same for every delivery of it), the
    message as the event tells it (no price, its dates only as the change's time), when
    the change happened at Twilio, and the account (or subaccount) that sent it."""

    event_id: str
    message: Message
    at: datetime
    account_sid: str


def takes_report(held: Message | None, held_at: datetime | None, report: Report) -> bool:
    """Whether `report` should change the message held (None: not held), whose status was
    last set by a report of `held_at` (None: by the poll or a StatusCallback).

    A final status is never replaced by a status that is not; the same status and code
    again change nothing. Otherwise the later change wins: by time when both have one,
    else by how far along it puts the message. One final status replaces another only by
    a later report: what the poll read is Twilio's own state, kept until a later report
    says otherwise (carriers do send a second receipt)."""
    if held is None:
        return True
    new = report.message
    if (held.status, held.error_code) == (new.status, new.error_code):
        return False
    held_final, final = held.status in FINAL_STATUSES, new.status in FINAL_STATUSES
    if held_final != final:
        return final
    if held_at is not None and report.at != held_at:
        return report.at > held_at
    if held_final:
        return False
    return PROGRESS.get(new.status, 0) > PROGRESS.get(held.status, 0)


def settled(held: Message | None, held_at: datetime | None, reports: list[Report]) -> Report | None:
    """Of several reports on one message, the one that leaves it as it ends up (they are
    applied in the order they happened), or None when none changes it."""
    kept = None
    for report in sorted(reports, key=lambda r: r.at):
        if takes_report(held, held_at, report):
            kept, held, held_at = report, report.message, report.at
    return kept
