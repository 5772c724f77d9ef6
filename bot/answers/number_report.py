"""The report `lookup` gives: what Twilio Lookup said of a number, what that means for
sending it SMS, and our recent messages to it.

Pure: built from values (the number, Lookup's answer, our messages to it, and `now`).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.answers.knowledge import Section
from bot.answers.phone_numbers import CACHE_DAYS, Lookup, PhoneNumber
from bot.domain import policy
from bot.domain.messages import Message, count_streak, describe, utc, when
from bot.domain.policy import Policy

HISTORY_WINDOW = timedelta(days=30)
HISTORY_LIMIT = 500


# Lookup's line types (twilio.com/docs/lookup/v2-api/line-type-intelligence): a name for
# people, and what it means for sending SMS to the number.
LINE_TYPES: dict[str, tuple[str, str]] = {
    "mobile": (
        "mobile",
        "A mobile number: it can receive SMS. If messages to it fail with 30003, look at the "
        "sender first: from a short code, the plan may not take short-code messages; from a "
        "long code or toll-free number, a carrier may be filtering the traffic; from any "
        "sender, the phone may have been off or out of coverage.",
    ),
    "landline": (
        "landline",
        "A landline cannot receive SMS: messages to it fail with 30006. Reach this person "
        "another way, and take the number off SMS lists.",
    ),
    "fixedVoip": (
        "fixed VoIP",
        "An internet phone line tied to an address, such as a cable or office phone service. "
        "Whether it takes SMS depends on the provider; where it does not, messages fail with "
        "30006.",
    ),
    "nonFixedVoip": (
        "non-fixed VoIP",
        "A number from an app or online service, not tied to an address. It can usually "
        "receive SMS, but delivery is less predictable than to mobiles, and because such "
        "numbers are cheap in bulk, many senders and carriers filter them.",
    ),
    "tollFree": (
        "toll-free",
        "A toll-free number receives SMS only if its owner has enabled texting on it; "
        "otherwise expect 30006. Sending from a toll-free number in the US or Canada is "
        "another matter: it needs toll-free verification, or messages fail with 30032.",
    ),
    "personal": (
        "personal",
        "A personal number forwards to another line; whether a text reaches anyone "
        "depends on where it points.",
    ),
    "premium": ("premium rate", "A premium-rate service number: it does not take ordinary SMS."),
    "sharedCost": ("shared cost", "A shared-cost service number: it does not normally take SMS."),
    "uan": (
        "universal access",
        "A company's universal access number; these route voice calls, not SMS.",
    ),
    "voicemail": ("voicemail", "A number for reaching voicemail: it does not take SMS."),
    "pager": ("pager", "A pager number: ordinary SMS will not reach it reliably."),
    "unknown": (
        "unknown",
        "Twilio could not tell the line type. Send one test message and check its status.",
    ),
}

# Lookup's validation_errors (twilio.com/docs/lookup/v2-api), in our words.
VALIDATION_ERRORS = {
    "TOO_SHORT": "too short",
    "TOO_LONG": "too long",
    "INVALID_BUT_POSSIBLE": "the right length, but in no range of numbers in use",
    "INVALID_COUNTRY_CODE": "no such country calling code",
    "INVALID_LENGTH": "a length no number there has",
    "NOT_A_NUMBER": "not a phone number",
}


@dataclass(frozen=True)
class NumberReport:
    number: PhoneNumber
    lookup: Lookup
    looked_up_at: datetime
    cached: bool  # from the bot's cache, so the lookup cost nothing
    history: tuple[Message, ...]  # messages to this number, newest first
    streak: int  # 30003s in a row, newest first, within the policy's days
    rules: Policy

    @property
    def heading(self) -> str:
        return f"Number {self.number.international}"

    @property
    def line_type_name(self) -> str:
        if self.lookup.line_type:
            return LINE_TYPES.get(self.lookup.line_type, (self.lookup.line_type, ""))[0]
        if self.lookup.line_type_error:
            return f"not available (Twilio error {self.lookup.line_type_error})"
        return ""

    def facts(self) -> list[tuple[str, str]]:
        lookup = self.lookup
        valid = "yes"
        if not lookup.valid:
            reasons = [VALIDATION_ERRORS.get(e, e) for e in lookup.validation_errors]
            valid = "no" + (f": {', '.join(reasons)}" if reasons else "")
        networks = [lookup.mobile_country_code, lookup.mobile_network_code]
        when = utc(self.looked_up_at)
        if self.cached:
            when += f", from the bot's cache (kept {CACHE_DAYS} days)"
        pairs = [
            ("Valid (Twilio)", valid),
            ("E.164", self.number.e164),
            ("National format", lookup.national_format or self.number.national),
            ("Country", f"{self.number.country} ({lookup.country_code or self.number.region})"),
            ("Line type", self.line_type_name),
            ("Carrier", lookup.carrier_name or ""),
            ("MCC / MNC", " / ".join(n for n in networks if n) if any(networks) else ""),
            ("Looked up", when),
        ]
        return [(label, value) for label, value in pairs if value]

    def sections(self) -> list[Section]:
        return [
            Section("What this means for SMS", (self._sms_meaning(),)),
            Section(
                f"Messages to this number, last {HISTORY_WINDOW.days} days", self._history_lines()
            ),
        ]

    def _sms_meaning(self) -> str:
        lookup = self.lookup
        if not lookup.valid:
            return (
                "Twilio does not consider this a valid number: a message to it is refused "
                "with 21211 when it is sent."
            )
        if lookup.line_type_error == 60601:
            return (
                "Twilio gives line types for Canadian numbers only to accounts it has "
                "approved for that data (error 60601), so the line type is unknown."
            )
        if lookup.line_type in LINE_TYPES:
            return LINE_TYPES[lookup.line_type][1]
        return "Twilio did not say what kind of line this is."

    def _history_lines(self) -> tuple[str, ...]:
        if not self.history:
            return (
                "None in the bot's records. It records the messages it is asked about, and "
                "every message once it watches the account.",
            )
        counts: dict[str, int] = {}
        for m in self.history:
            counts[m.status] = counts.get(m.status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        scope = "the latest " if len(self.history) >= HISTORY_LIMIT else ""
        lines = [f"{scope}{len(self.history)} in the bot's records: {summary}."]
        lines += [describe(m) for m in self.history[:5]]
        if advice := policy.streak_advice(self.streak, self.rules):
            lines.append(advice)
        return tuple(lines)


def build_report(
    number: PhoneNumber,
    lookup: Lookup,
    looked_up_at: datetime,
    cached: bool,
    history: Sequence[Message],
    rules: Policy,
    now: datetime,
) -> NumberReport:
    newest_first = tuple(sorted(history, key=when, reverse=True))
    return NumberReport(
        number=number,
        lookup=lookup,
        looked_up_at=looked_up_at,
        cached=cached,
        history=newest_first,
        streak=count_streak(newest_first, now, timedelta(days=rules.streak_days)),
        rules=rules,
    )
