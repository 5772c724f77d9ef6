"""Numbers: a phone number read as people type it, and the report `lookup` gives.

Pure: phonenumbers reads the number on this machine, so one that cannot be valid is
refused before any paid Lookup; the report is built from values (the number, what Twilio
Lookup said, our messages to it, and `now`).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers
from phonenumbers import NumberParseException, ValidationResult

from bot.answers.knowledge import Section
from bot.domain import policy
from bot.domain.messages import Message, count_streak, describe, utc, when
from bot.domain.policy import Policy

HISTORY_WINDOW = timedelta(days=30)
HISTORY_LIMIT = 500
CACHE_DAYS = 7
# Slack may send a number it turned into a link as <tel:+12025550156|+1 202 555 0156>.
_SLACK_TEL = re.compile(r"<tel:([^|>]*)(?:\|[^>]*)?>")
_SLACK_TOKEN = re.compile(r"<[@#!]")  # a mention, channel or special such as <!here>
_EXTENSION_WORDS = frozenset({"ext", "ext.", "x", "extension"})


@dataclass(frozen=True)
class PhoneNumber:
    """A number that may be valid: phonenumbers knows a range it belongs to."""

    e164: str
    international: str
    national: str
    region: str  # ISO 3166 code such as "US"; "001" for numbers of no country
    country: str


@dataclass(frozen=True)
class NotANumber:
    reason: str


@dataclass(frozen=True)
class Lookup:
    """Lookup v2 with line type intelligence, as Twilio answered it."""

    phone_number: str
    valid: bool
    validation_errors: tuple[str, ...] = ()
    national_format: str | None = None
    country_code: str | None = None
    line_type: str | None = None
    carrier_name: str | None = None
    mobile_country_code: str | None = None
    mobile_network_code: str | None = None
    line_type_error: int | None = None  # e.g. 60601: Canadian data needs Twilio's approval


def known_region(code: str) -> bool:
    return code.upper() in phonenumbers.SUPPORTED_REGIONS


def read_number(text: str, default_region: str) -> PhoneNumber | NotANumber:
    """`text` as a phone number (E.164, or national for `default_region`; spaces, dashes,
    dots and parentheses allowed), or why it cannot be one."""
    text = _SLACK_TEL.sub(r"\1", text).strip()
    if _SLACK_TOKEN.search(text):
        return NotANumber("It is a Slack mention or channel, not a phone number.")
    if text.count("+") > 1:
        return NotANumber("It holds more than one number; look them up one at a time.")
    # phonenumbers reads letters as keypad digits (1-800-FLOWERS); a whole word is not that.
    if any(w.isalpha() and w.lower() not in _EXTENSION_WORDS for w in text.split()):
        return NotANumber("It has words in it; give the number alone.")
    hint = "" if text.startswith("+") else _outside_hint(default_region)
    try:
        number = phonenumbers.parse(text, default_region)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.NOT_A_NUMBER:
            hint = ""  # no digits to read in any country
        return NotANumber(_PARSE_REASONS.get(exc.error_type, "It is not a phone number.") + hint)
    code = number.country_code or 0
    region = phonenumbers.region_code_for_country_code(code)
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == ValidationResult.INVALID_COUNTRY_CODE or region == "ZZ":
        return NotANumber(f"No country uses the calling code +{code}." + hint)
    if reason == ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        return NotANumber("It looks like a local number: add the area code." + hint)
    if reason != ValidationResult.IS_POSSIBLE:
        digits = len(phonenumbers.national_significant_number(number))
        if hint and 5 <= digits <= 6 and reason == ValidationResult.TOO_SHORT:
            return NotANumber(
                "Short codes (5 or 6 digits) are not phone numbers Lookup can check; "
                "give a number with its area code."
            )
        return NotANumber(_length_reason(code, region, digits) + hint)
    if not phonenumbers.is_valid_number(number):
        return NotANumber(
            f"It has a possible length for +{code}, but no numbers in use begin that way, "
            f"by the numbering plans this bot knows (phonenumbers {phonenumbers.__version__})."
            + hint
        )
    region = phonenumbers.region_code_for_number(number) or region
    number.extension = None  # SMS goes to the line, never to an extension
    return PhoneNumber(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        international=phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
        ),
        national=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
        region=region,
        country=_country_name(region),
    )


_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "It does not start with a country calling code.",
    NumberParseException.NOT_A_NUMBER: "It is not written like a phone number.",
    NumberParseException.TOO_SHORT_AFTER_IDD: "It is too short after the international prefix.",
    NumberParseException.TOO_SHORT_NSN: "It is too short to be a phone number.",
    NumberParseException.TOO_LONG: "It is too long to be a phone number.",
}


def _length_reason(country_code: int, region: str, digits: int) -> str:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    desc = metadata.general_desc if metadata else None
    lengths = sorted(desc.possible_length) if desc else []
    allowed = " or ".join(str(n) for n in lengths) if lengths else "a different number of"
    return (
        f"Numbers with the calling code +{country_code} have {allowed} digits after it; "
        f"this one has {digits}."
    )


def _outside_hint(default_region: str) -> str:
    return (
        f" It was read with DEFAULT_REGION {default_region} ({_country_name(default_region)}); "
        "for another country, start with + and the calling code."
    )


def preload() -> None:
    """Load the geocoder's country names now, not in the first `lookup` (about half a
    second of CPU, measured on a 2-CPU machine)."""
    _country_name("US")


def _country_name(region: str) -> str:
    if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        return "no single country (a global service number)"
    # Imported here: the geocoder loads about 100 MB of place names with it, which only
    # `lookup` needs, never the watcher (bench/detection.py measures its memory).
    from phonenumbers import geocoder

    example = phonenumbers.example_number(region)
    name = geocoder.country_name_for_number(example, "en") if example else ""
    return name or region


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
