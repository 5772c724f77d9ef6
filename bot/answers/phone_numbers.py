"""Phone numbers as people type them, read on this machine, and what Twilio Lookup
answers about one (`Lookup`).

Pure: phonenumbers reads the number here, so one that cannot be valid is refused before
any paid Lookup.
"""

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, ValidationResult

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
        country=country_name(region),
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
        f" It was read with DEFAULT_REGION {default_region} ({country_name(default_region)}); "
        "for another country, start with + and the calling code."
    )


def preload() -> None:
    """Load the geocoder's country names now, not in the first `lookup` (about half a
    second of CPU, measured on a 2-CPU machine)."""
    country_name("US")


def country_name(region: str) -> str:
    if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        return "no single country (a global service number)"
    # Imported here: the geocoder loads about 100 MB of place names with it, which only
    # `lookup` needs, never the watcher (bench/detection.py measures its memory).
    from phonenumbers import geocoder

    example = phonenumbers.example_number(region)
    name = geocoder.country_name_for_number(example, "en") if example else ""
    return name or region
