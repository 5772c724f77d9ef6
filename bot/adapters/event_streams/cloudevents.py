"""CloudEvents: Twilio's Event Streams batches read into values, and nothing else.

A webhook sink receives a JSON array of CloudEvents 1.0 (`specversion`, `type`, `id`,
`time`, `data`, ...), or one event alone when the sink was made without `batch_events`.
Message status events are `com.twilio.messaging.message.<status>`
with `data` giving `messageSid`, `accountSid`, `from`, `to`, `messageStatus`, `errorCode`,
`messagingServiceSid`, `numberOfSegments` and `timestamp`. The sink test event that
`Sinks/{Sid}/Test` sends carries its id as `data.test_id` (the shape is not documented
in detail: any `com.twilio.eventstreams.` event with a test id is taken for it). Types
the bot does not use are counted and left. `mcc`/`mnc` are documented as the FROM
number's network, which says nothing of the recipient's carrier: they are not read.
"""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.domain.messages import STATUS_MEANINGS, Message, sid_problem
from bot.domain.reports import Report

STATUS_TYPE = "com.twilio.messaging.message."
# Registration changes (A2P 10DLC brands and campaigns, toll-free verifications): their
# exact types and fields are not relied on; one of them makes the watcher read them all.
COMPLIANCE = ".compliance."
TEST_TYPE = "com.twilio.eventstreams."
MAX_FIELD_CHARS = 64  # numbers and SIDs are far shorter; anything longer is not one
_ACCOUNT = re.compile(r"AC[0-9a-f]{32}")


class Unreadable(ValueError):
    """The body is not a JSON array of objects (the whole batch is refused, 400)."""


@dataclass(frozen=True)
class Batch:
    """What one delivery held: status reports, sink test ids, how many registration
    events came, how many events were of other types, and how many status events lacked
    what a status needs (a SID, a known status, an account)."""

    reports: tuple[Report, ...]
    tests: tuple[str, ...]
    other: int
    unreadable: int
    compliance: int = 0


def read_batch(body: bytes, received: datetime) -> Batch:
    """The batch in `body`; an event without a time of its own is taken as `received`."""
    try:
        events = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Unreadable("not JSON") from exc
    if isinstance(events, dict) and "type" in events:
        events = [events]  # a sink made without batching gets one event a request
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise Unreadable("not a JSON array of objects")
    reports: list[Report] = []
    tests: list[str] = []
    other = unreadable = compliance = 0
    for event in events:
        kind = event.get("type")
        data = event.get("data")
        if not isinstance(kind, str) or not isinstance(data, dict):
            unreadable += 1
        elif kind.startswith(STATUS_TYPE):
            report = _report(event, kind, data, received)
            if report is None:
                unreadable += 1
            else:
                reports.append(report)
        elif kind.startswith(TEST_TYPE) and _text(data.get("test_id") or data.get("testId")):
            tests.append(_text(data.get("test_id") or data.get("testId")))
        elif kind.startswith("com.twilio.messaging.") and COMPLIANCE in kind:
            compliance += 1
        else:
            other += 1
    return Batch(tuple(reports), tuple(tests), other, unreadable, compliance)


def _report(
    event: dict[str, object], kind: str, data: dict[str, object], received: datetime
) -> Report | None:
    event_id, sid = _text(event.get("id")), _text(data.get("messageSid"))
    account = _text(data.get("accountSid"))
    status = (_text(data.get("messageStatus")) or kind.removeprefix(STATUS_TYPE)).lower()
    if not event_id or sid_problem(sid) or not _ACCOUNT.fullmatch(account):
        return None
    if status not in STATUS_MEANINGS:
        return None
    at = _moment(data.get("timestamp")) or _moment(event.get("time")) or received
    message = Message(
        sid=sid,
        status=status,
        to=_text(data.get("to")),
        from_=_text(data.get("from")),
        direction="outbound-api",  # status events are sent for messages the account sends
        error_code=_code(data.get("errorCode")),
        messaging_service_sid=_text(data.get("messagingServiceSid")) or None,
        num_segments=_count(data.get("numberOfSegments")),
        date_created=at,
        date_updated=at,
        account_sid=account,
    )
    return Report(event_id=event_id, message=message, at=at, account_sid=account)


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) and len(value) <= MAX_FIELD_CHARS else ""


def _code(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 1_000_000 else None
    text = _text(value)
    return int(text) if re.fullmatch(r"[0-9]{1,6}", text) and int(text) else None


def _count(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10_000:
        return value
    text = _text(value)
    return int(text) if re.fullmatch(r"[0-9]{1,4}", text) else None


def _moment(value: object) -> datetime | None:
    text = _text(value)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
