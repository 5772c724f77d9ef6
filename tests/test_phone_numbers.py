"""Reading phone numbers as people type them, and the lookup report (pure)."""

from datetime import UTC, datetime, timedelta

import pytest

from bot import settings
from bot.answers.number_report import LINE_TYPES, build_report
from bot.answers.phone_numbers import Lookup, NotANumber, PhoneNumber, read_number
from tests.support import msg

POLICY = settings.load({}).policy

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "region", "e164"),
    [
        ("+12025550156", "US", "+12025550156"),
        ("+1 202 555 0156", "US", "+12025550156"),
        ("(202) 555-0156", "US", "+12025550156"),
        ("202.555.0156", "US", "+12025550156"),
        ("1-202-555-0156", "US", "+12025550156"),
        ("011 44 20 7946 0018", "US", "+442079460018"),  # the US international prefix
        ("020 7946 0018", "GB", "+442079460018"),
        ("+44 (0)20 7946 0018", "US", "+442079460018"),
        ("<tel:+12025550156|+1 202 555 0156>", "US", "+12025550156"),  # as Slack links it
        ("+1 202 555 0156 ext. 7", "US", "+12025550156"),  # SMS never goes to an extension
        ("+1 202 555 0156 x 7", "US", "+12025550156"),
        ("1-800-FLOWERS", "US", "+18003569377"),  # keypad letters are digits
    ],
)
def test_common_ways_of_writing_a_number(typed, region, e164):
    number = read_number(typed, region)
    assert isinstance(number, PhoneNumber)
    assert number.e164 == e164


def test_a_number_carries_its_formats_and_country():
    assert read_number("2025550156", "US") == PhoneNumber(
        e164="+12025550156",
        international="+1 202-555-0156",
        national="(202) 555-0156",
        region="US",
        country="United States",
    )


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("hello", "It has words in it; give the number alone."),
        ("+-()", "It is not written like a phone number."),
        ("<@U0123ABC>", "It is a Slack mention or channel, not a phone number."),
        ("<!channel>", "It is a Slack mention or channel"),
        ("+1 202 555 0156 +1 202 555 0157", "It holds more than one number"),
        ("2025550156 please", "It has words in it"),
        ("+1 202", "Numbers with the calling code +1 have 10 digits after it; this one has 3."),
        ("+1 202 555 01567", "have 10 digits after it; this one has 11."),
        ("+999 1234567", "It does not start with a country calling code."),
        ("+447700900123", "It has a possible length for +44, but no numbers in use begin"),
        ("+447700900123", "by the numbering plans this bot knows (phonenumbers "),
        ("+1 000 555 0156", "no numbers in use begin that way"),
        ("12345", "Short codes (5 or 6 digits) are not phone numbers Lookup can check"),
        ("555 0156", "It looks like a local number: add the area code."),
        ("1" * 40, "It is too long to be a phone number."),
        # Written the European way with DEFAULT_REGION US: read as a US number.
        ("0044 20 7946 0018", "It was read with DEFAULT_REGION US (United States)"),
    ],
)
def test_a_number_that_cannot_be_valid_says_why(typed, reason):
    result = read_number(typed, "US")
    assert isinstance(result, NotANumber)
    assert reason in result.reason


def test_the_region_hint_only_comes_when_the_region_was_used():
    typed_with_plus = read_number("+1 202", "US")
    typed_without = read_number("202", "US")
    assert isinstance(typed_with_plus, NotANumber) and isinstance(typed_without, NotANumber)
    assert "DEFAULT_REGION" not in typed_with_plus.reason
    assert "DEFAULT_REGION" in typed_without.reason


NUMBER = PhoneNumber("+12025550156", "+1 202-555-0156", "(202) 555-0156", "US", "United States")


def report(lookup: Lookup, history=(), cached=False):
    return build_report(NUMBER, lookup, NOW - timedelta(days=1), cached, history, POLICY, NOW)


def lookup(**fields) -> Lookup:
    values = {
        "phone_number": "+12025550156",
        "valid": True,
        "national_format": "(202) 555-0156",
        "country_code": "US",
        "line_type": "mobile",
        "carrier_name": "Simulated Wireless",
        "mobile_country_code": "310",
        "mobile_network_code": "260",
        **fields,
    }
    return Lookup(**values)


def test_facts_of_a_mobile_number():
    facts = dict(report(lookup()).facts())
    assert facts == {
        "Valid (Twilio)": "yes",
        "E.164": "+12025550156",
        "National format": "(202) 555-0156",
        "Country": "United States (US)",
        "Line type": "mobile",
        "Carrier": "Simulated Wireless",
        "MCC / MNC": "310 / 260",
        "Looked up": "2026-11-22 12:00 UTC",
    }


def test_a_cached_answer_says_so():
    facts = dict(report(lookup(), cached=True).facts())
    assert facts["Looked up"] == "2026-11-22 12:00 UTC, from the bot's cache (kept 7 days)"


@pytest.mark.parametrize(
    ("fields", "meaning"),
    [
        ({"line_type": "landline"}, "messages to it fail with 30006"),
        ({"line_type": "tollFree"}, "30032"),
        ({"line_type": "nonFixedVoip"}, "filter them"),
        ({"line_type": "unknown"}, "could not tell the line type"),
        ({"line_type": "holographic"}, "did not say what kind of line"),
        ({"valid": False, "validation_errors": ("TOO_SHORT",)}, "refused with 21211"),
        ({"line_type": None, "line_type_error": 60601}, "Canadian numbers"),
    ],
)
def test_what_the_line_type_means_for_sms(fields, meaning):
    [sms, _history] = report(lookup(**fields)).sections()
    assert sms.heading == "What this means for SMS"
    assert meaning in sms.items[0]


def test_an_invalid_number_gives_twilios_reasons_in_words():
    facts = dict(report(lookup(valid=False, validation_errors=("TOO_LONG",))).facts())
    assert facts["Valid (Twilio)"] == "no: too long"


def test_a_line_type_error_is_shown_in_place_of_the_type():
    facts = dict(report(lookup(line_type=None, carrier_name=None, line_type_error=60601)).facts())
    assert facts["Line type"] == "not available (Twilio error 60601)"
    assert "Carrier" not in facts


def test_every_documented_line_type_has_words():
    # twilio.com/docs/lookup/v2-api/line-type-intelligence: the Type property values.
    documented = {
        "landline",
        "mobile",
        "fixedVoip",
        "nonFixedVoip",
        "personal",
        "tollFree",
        "premium",
        "sharedCost",
        "uan",
        "voicemail",
        "pager",
        "unknown",
    }
    assert set(LINE_TYPES) == documented
    assert all(name and meaning for name, meaning in LINE_TYPES.values())


def test_history_counts_statuses_and_calls_out_a_dying_number():
    history = [msg(10), msg(60 * 24), msg(60 * 48), msg(60 * 72, "delivered", None)]
    [_sms, section] = report(lookup(), history).sections()
    assert section.items[0] == "4 in the bot's records: 1 delivered, 3 undelivered."
    assert section.items[1] == "2026-11-23 11:50 UTC · `undelivered` · 30003"
    assert "By team policy, one more and it comes off the sending list" in section.items[-1]


def test_more_than_three_in_a_row_is_the_same_policy_as_in_the_message_report():
    history = [msg(10), msg(60), msg(120), msg(180)]
    [_sms, section] = report(lookup(), history).sections()
    assert section.items[-1].startswith("4 messages in a row to this number failed with 30003")
    assert "Team policy (more than 3 in a row): stop sending" in section.items[-1]
    assert "Twilio does not say the number is out of service" in section.items[-1]


def test_a_mobile_numbers_30003_meaning_names_the_sender_types():
    [sms, _history] = report(lookup()).sections()
    assert "look at the sender first: from a short code" in sms.items[0]
    assert "long code or toll-free number, a carrier may be filtering" in sms.items[0]


def test_history_without_a_streak_has_no_warning():
    [_sms, section] = report(lookup(), [msg(10, "delivered", None)]).sections()
    assert not any("in a row" in item for item in section.items)


def test_no_history_says_where_history_comes_from():
    [_sms, section] = report(lookup()).sections()
    assert section.items[0].startswith("None in the bot's records.")
