"""Messages: a Twilio message record, what its status means, and the report `why SM…` gives.

Pure: the report is built from values (the message, its explanation, the recipient's
history, a sample of the account's recent traffic, and `now`).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.knowledge import Explanation, Section
from bot.privacy import mask_number

STREAK_CODE = 30003
STREAK_WINDOW = timedelta(days=7)
STREAK_LIMIT = 3  # seed 001: drop a number after more than 3 straight 30003s in 7 days
SYSTEMIC_RATE = 0.05  # seed 001: above 5% of sends, 30003 is systemic
SYSTEMIC_MIN_SAMPLE = 20  # below this many final messages, a rate says nothing
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


@dataclass(frozen=True)
class AccountErrors:
    """How one error code stands across a sample of the account's recent messages."""

    code: int
    failed: int  # messages with this code
    final: int  # messages with a final status in the sample
    recipients: int  # distinct recipients with this code
    since: datetime
    sample_full: bool  # the sample hit its size limit, so the counts are a lower bound

    @property
    def rate(self) -> float:
        return self.failed / self.final if self.final else 0.0


@dataclass(frozen=True)
class MessageReport:
    message: Message
    explanation: Explanation | None
    history: tuple[Message, ...]  # this recipient, newest first, other messages
    streak: int  # consecutive 30003s to this recipient, newest first, within 7 days
    account: AccountErrors | None
    advice: tuple[str, ...]

    @property
    def heading(self) -> str:
        return f"Message {self.message.sid} · {self.message.status}"

    @property
    def other_party(self) -> str:
        """The number at the far end: the recipient of an outgoing message, the sender of an
        incoming one. Other addresses, such as `whatsapp:+1…`, come back as they are."""
        m = self.message
        return m.from_ if m.direction == "inbound" else m.to

    def facts(self, masked: bool = False) -> list[tuple[str, str]]:
        """Labelled facts; `masked` hides the phone numbers, for posts others can read."""
        m = self.message
        show = mask_number if masked else (lambda number: number)
        status = (
            f"`{m.status}`: {STATUS_MEANINGS.get(m.status, 'a status this bot does not know.')}"
        )
        error = "none"
        if m.error_code is not None:
            title = self.explanation.title if self.explanation and self.explanation.title else ""
            error = f"{m.error_code} · {title or m.error_message or 'no title known'}"
        price = ""
        if m.price:
            price = f"{abs(float(m.price)):.4f} {m.price_unit or ''}".strip()
        pairs = [
            ("Status", status),
            ("Error", error),
            ("To", show(m.to)),
            ("From", show(m.from_)),
            ("Messaging Service", m.messaging_service_sid or "none: sent from a number"),
            ("Segments", str(m.num_segments) if m.num_segments else ""),
            ("Price", price),
            (
                "Sent",
                utc(m.date_sent) if m.date_sent else f"not yet (created {utc(m.date_created)})",
            ),
        ]
        return [(label, value) for label, value in pairs if value]

    def sections(self) -> list[Section]:
        found = []
        ex = self.explanation
        if ex is not None and ex.meaning:
            found.append(Section(f"What {ex.code} means", (ex.meaning,)))
        # Advice about this very message beats the generic fixes, which can contradict it
        # (retry vs. stop sending); those stay one `why <code>` away.
        todo = self.advice or (ex.fixes[:3] if ex else ())
        if todo:
            found.append(Section("What to do now", tuple(todo)))
        found.append(Section("This recipient, last 7 days", self._history_lines()))
        if self.account is not None:
            found.append(Section("Across the account, last hour", (self._account_line(),)))
        return found

    def _history_lines(self) -> tuple[str, ...]:
        if not self.history:
            return ("No other messages to this number in the last 7 days.",)
        lines = [describe(m) for m in self.history]
        if self.streak:
            lines.append(f"{self.streak} failure(s) with 30003 in a row, counting this one.")
        return tuple(lines)

    def _account_line(self) -> str:
        a = self.account
        assert a is not None
        scope = "of the latest" if a.sample_full else "of"
        return (
            f"{a.failed} {scope} {a.final} messages with a final status failed with {a.code} "
            f"({a.rate:.1%}), to {a.recipients} recipient(s)."
        )


def build_report(
    message: Message,
    explanation: Explanation | None,
    recipient_history: Sequence[Message],
    account_sample: Sequence[Message] | None,
    sample_limit: int,
    sample_since: datetime,
    now: datetime,
) -> MessageReport:
    history = sorted(
        (m for m in recipient_history if m.sid != message.sid and m.to == message.to),
        key=when,
        reverse=True,
    )
    everything = sorted([message, *history], key=when, reverse=True)
    streak = count_streak(everything, now)
    account = None
    if message.error_code is not None and account_sample is not None:
        final = [m for m in account_sample if m.status in FINAL_STATUSES]
        hits = [m for m in final if m.error_code == message.error_code]
        account = AccountErrors(
            code=message.error_code,
            failed=len(hits),
            final=len(final),
            recipients=len({m.to for m in hits}),
            since=sample_since,
            sample_full=len(account_sample) >= sample_limit,
        )
    return MessageReport(
        message=message,
        explanation=explanation,
        history=tuple(history[:5]),
        streak=streak,
        account=account,
        advice=tuple(_advice(message, streak, account)),
    )


def count_streak(newest_first: Sequence[Message], now: datetime) -> int:
    """30003s in a row, from the most recent final message back, within the last 7 days."""
    streak = 0
    for m in newest_first:
        if m.status not in FINAL_STATUSES:
            continue
        if when(m) < now - STREAK_WINDOW or m.error_code != STREAK_CODE:
            break
        streak += 1
    return streak


def _advice(message: Message, streak: int, account: AccountErrors | None) -> list[str]:
    advice = []
    code = message.error_code
    if (
        account is not None
        and account.final >= SYSTEMIC_MIN_SAMPLE
        and account.rate > SYSTEMIC_RATE
    ):
        advice.append(
            f"{account.rate:.0%} of the account's recent messages failed with {code}: that is "
            "above 5%, so look for a carrier or routing problem before blaming this handset."
        )
    if code == STREAK_CODE:
        if streak > STREAK_LIMIT:
            advice.append(
                f"This number has failed with 30003 {streak} times in a row within 7 days: it "
                "is very likely inactive. Stop sending to it."
            )
        elif streak == STREAK_LIMIT:
            advice.append(
                "This number has failed with 30003 3 times in a row within 7 days: one more "
                "and it should come off your list."
            )
        else:
            advice.append("Retry no sooner than 30 minutes after the failure, and at most 3 times.")
    # Seed 003: through a Messaging Service, API errors such as 21610 or 21703 arrive late.
    if (
        code is not None
        and 20000 <= code < 30000
        and message.messaging_service_sid
        and message.status == "failed"
    ):
        advice.append(
            f"Sent through a Messaging Service, so {code} arrived later as a `failed` message "
            "rather than as an HTTP 400 when the request was made."
        )
    if message.status == "failed" and code is None:
        advice.append("Failed without an error code: open the message in the Twilio Console.")
    return advice


def describe(m: Message) -> str:
    """One line for a list of messages: when, status, error code."""
    return f"{utc(when(m))} · `{m.status}`" + (f" · {m.error_code}" if m.error_code else "")


def utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "unknown"


def when(m: Message) -> datetime:
    moment = m.date_sent or m.date_created
    assert moment is not None, "Twilio always sets date_created"
    return moment
