"""Message report: what `why SM…` says of one message, with the context around it.

Pure: the report is built from values (the message, its explanation, the recipient's
history, how its error stands across the account, the watcher's incident on it, the
team's policy, and `now`).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers

from bot.answers.account_view import AccountErrors, IncidentNote
from bot.answers.knowledge import Explanation, Section
from bot.domain import policy
from bot.domain.messages import (
    STATUS_MEANINGS,
    Message,
    count_streak,
    describe,
    utc,
    when,
)
from bot.domain.policy import Policy
from bot.domain.privacy import mask_number

SYSTEMIC_MIN_SAMPLE = 20  # below this many final messages, a rate says nothing


@dataclass(frozen=True)
class MessageReport:
    message: Message
    explanation: Explanation | None
    history: tuple[Message, ...]  # this recipient, newest first, other messages
    streak: int  # consecutive 30003s to this recipient, newest first, within the policy's days
    account: AccountErrors | None
    incident: IncidentNote | None
    advice: tuple[str, ...]
    streak_days: int

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
        pairs = [
            ("Status", status),
            ("Error", error),
            ("To", show(m.to)),
            ("From", show(m.from_)),
            ("Messaging Service", m.messaging_service_sid or "none: sent from a number"),
            ("Segments", str(m.num_segments) if m.num_segments else ""),
            ("Price", _price(m)),
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
        found.append(
            Section(f"This recipient, last {self.streak_days} days", self._history_lines())
        )
        across = []
        if self.incident is not None:
            across.append(self.incident.line())
        if self.account is not None:
            across.append(self._account_line())
        if across:
            found.append(Section("Across the account", tuple(across)))
        return found

    def _history_lines(self) -> tuple[str, ...]:
        if not self.history:
            return (f"No other messages to this number in the last {self.streak_days} days.",)
        lines = [describe(m) for m in self.history]
        if self.streak:
            lines.append(
                f"{self.streak} failure(s) with {policy.STREAK_CODE} in a row, counting this one."
            )
        return tuple(lines)

    def _account_line(self) -> str:
        a = self.account
        assert a is not None
        return (
            f"{a.failed} of {a.final} messages with a final status failed with {a.code} "
            f"({a.rate:.1%}), to {a.recipients} recipient(s); counted over {a.scope()}."
        )


def build_report(
    message: Message,
    explanation: Explanation | None,
    recipient_history: Sequence[Message],
    account: AccountErrors | None,
    incident: IncidentNote | None,
    rules: Policy,
    now: datetime,
) -> MessageReport:
    history = sorted(
        (m for m in recipient_history if m.sid != message.sid and m.to == message.to),
        key=when,
        reverse=True,
    )
    everything = sorted([message, *history], key=when, reverse=True)
    streak = count_streak(everything, now, timedelta(days=rules.streak_days))
    if message.error_code is None:
        account = incident = None
    return MessageReport(
        message=message,
        explanation=explanation,
        history=tuple(history[:5]),
        streak=streak,
        account=account,
        incident=incident,
        advice=tuple(_advice(message, streak, account, rules)),
        streak_days=rules.streak_days,
    )


def sender_kind(sender: str) -> str:
    """What kind of sender a `From` is: "short code", "toll-free", "long code",
    "alphanumeric" or "" (another channel, or not readable)."""
    if sender.isdigit() and 3 <= len(sender) <= 8:
        return "short code"
    if sender.startswith("+"):
        try:
            number = phonenumbers.parse(sender, None)
        except phonenumbers.NumberParseException:
            return ""
        if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.TOLL_FREE:
            return "toll-free"
        return "long code"
    if sender.isalnum() and not sender.isdigit():
        return "alphanumeric"
    return ""


def sender_advice(kind: str) -> str:
    """Twilio's 30003 causes that depend on the sender, first (twilio.com/docs/api/errors/30003)."""
    if kind == "short code":
        return (
            "Sent from a short code. Besides a phone that is off or out of coverage, 30003 "
            "from a short code may mean the recipient's plan does not take short-code "
            "(premium) messages: their carrier can change that, or a Messaging Service that "
            "also holds a long code can reach them from it."
        )
    if kind in ("long code", "toll-free"):
        return (
            f"Sent from a {kind} number. Besides a phone that is off or out of coverage, or a "
            "number that cannot take SMS (a landline), carriers can report filtered long-code "
            "and toll-free traffic as 30003: if many recipients fail, review the sender's "
            "registration and content."
        )
    return ""


def _advice(
    message: Message, streak: int, account: AccountErrors | None, rules: Policy
) -> list[str]:
    advice = []
    code = message.error_code
    if (
        account is not None
        and account.final >= SYSTEMIC_MIN_SAMPLE
        and account.rate * 100 > rules.systemic_percent
    ):
        advice.append(
            f"{account.rate:.0%} of the account's messages counted below failed with {code}: "
            f"above the team's systemic level of {rules.systemic_percent:g}%, so look for a "
            "carrier or routing problem before blaming this handset."
        )
    if code == policy.STREAK_CODE:
        if found := sender_advice(sender_kind(message.from_)):
            advice.append(found)
        if not policy.streak_advice(streak, rules):  # a long run is past a test send
            advice.append(
                "Twilio's first step: send one more test message through the API, to rule "
                "out a one-time fault downstream."
            )
        advice.append(policy.streak_advice(streak, rules) or policy.retry_advice(rules))
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


def _price(m: Message) -> str:
    """Twilio's price as it reads, or what it said when that is not a number."""
    if not m.price:
        return ""
    try:
        amount = f"{abs(float(m.price)):.4f}"
    except ValueError:
        amount = m.price[:20]
    return f"{amount} {m.price_unit or ''}".strip()
