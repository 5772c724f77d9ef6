"""The message report: status meanings, the 30003 streak, advice, masking (pure)."""

from dataclasses import replace
from datetime import timedelta

import pytest

from bot import settings
from bot.answers.account_view import IncidentNote, account_from_counts, account_from_messages
from bot.answers.message_report import build_report, sender_kind
from bot.domain.failures import Failures
from bot.domain.messages import STATUS_MEANINGS, Message, count_streak
from tests.support import NOW, TO, msg

POLICY = settings.load({}).policy
WEEK = timedelta(days=7)


@pytest.mark.parametrize(
    ("history", "streak"),
    [
        ([], 0),
        ([msg(1)], 1),
        ([msg(1), msg(60), msg(120)], 3),
        ([msg(1), msg(60, "delivered", None), msg(120)], 1),
        ([msg(1), msg(30, "sent", None), msg(120)], 2),  # not final yet: skipped
        ([msg(1), msg(60, code=30005), msg(120)], 1),
        ([msg(1), msg(8 * 24 * 60)], 1),  # older than 7 days does not count
        ([msg(1, "delivered", None), msg(60)], 0),
    ],
)
def test_count_streak(history, streak):
    assert count_streak(history, NOW, WEEK) == streak


def test_the_streak_counts_within_the_policys_days():
    history = [msg(1), msg(3 * 24 * 60)]
    assert count_streak(history, NOW, timedelta(days=2)) == 1
    assert count_streak(history, NOW, timedelta(days=4)) == 2


def report(target: Message, history=(), sample=None, rules=POLICY, incident=None):
    account = None
    if sample is not None and target.error_code is not None:
        since = NOW - timedelta(hours=1)
        account = account_from_messages(target.error_code, list(sample), 1000, since, NOW)
    return build_report(target, None, list(history), account, incident, rules, NOW)


def test_a_long_30003_streak_is_the_teams_policy_not_a_dead_number():
    r = report(msg(1), [msg(60), msg(120), msg(180), msg(240)])
    assert r.streak == 5
    [streak] = [a for a in r.advice if "in a row" in a]
    assert "Team policy (more than 3 in a row): stop sending to it" in streak
    assert "Twilio does not say the number is out of service" in streak
    assert not any("inactive" in a or "dead" in a for a in r.advice)


def test_the_streak_limit_and_days_come_from_the_policy():
    strict = replace(POLICY, streak_limit=1, streak_days=2)
    r = report(msg(1), [msg(60)], rules=strict)
    assert any("more than 1 in a row" in a and "within 2 days" in a for a in r.advice)
    assert not any("in a row" in a for a in report(msg(1), [msg(60)]).advice)


def test_a_single_30003_gets_the_teams_retry_policy_after_the_sender():
    r = report(msg(1), [msg(60, "delivered", None)])
    assert r.advice[0].startswith("Sent from a long code number.")
    assert r.advice[1].startswith("Twilio's first step: send one more test message")
    assert r.advice[-1] == (
        "Team policy: retry no sooner than 30 minutes after the failure, and at most 3 times."
    )
    longer = report(msg(1), rules=replace(POLICY, retry_wait_minutes=45, retry_max=2))
    assert (
        "no sooner than 45 minutes" in longer.advice[-1] and "at most 2 times" in longer.advice[-1]
    )


@pytest.mark.parametrize(
    ("sender", "kind", "says"),
    [
        ("12345", "short code", "plan does not take short-code"),
        ("+18005550100", "toll-free", "filtered long-code and toll-free traffic"),
        ("+15005550006", "long code", "filtered long-code and toll-free traffic"),
        ("ACME", "alphanumeric", None),
        ("whatsapp:+15005550006", "", None),
    ],
)
def test_30003_advice_leads_with_the_sender_type(sender, kind, says):
    assert sender_kind(sender) == kind
    advice = report(msg(1, from_=sender)).advice
    if says is None:
        assert not any("Sent from" in a for a in advice)
    else:
        assert says in advice[0]


def test_account_rate_above_the_systemic_policy_points_away_from_the_handset():
    failing = [msg(i, to=f"+1202555{i:04d}") for i in range(1, 7)]
    fine = [msg(i, "delivered", None, to=f"+1202556{i:04d}") for i in range(1, 95)]
    r = report(msg(0.5), sample=failing + fine)
    assert (r.account.failed, r.account.final, r.account.recipients) == (6, 100, 6)
    assert r.advice[0].startswith("6% of the account's messages counted below failed with 30003")
    assert "systemic level of 5%" in r.advice[0]
    lenient = report(msg(0.5), sample=failing + fine, rules=replace(POLICY, systemic_percent=8))
    assert not any("systemic" in a for a in lenient.advice)


def test_a_handful_of_messages_is_too_few_to_call_a_rate_systemic():
    failing = [msg(i, to=f"+1202555{i:04d}") for i in range(1, 3)]
    r = report(msg(0.5), sample=[*failing, msg(5, "delivered", None, to="+12025569999")])
    assert r.account.rate > 0.5
    assert not any("systemic" in a for a in r.advice)


def test_a_sample_says_exactly_what_it_counted():
    listed = [msg(i * 0.025, "delivered", None, to=f"+1202556{i:04d}") for i in range(1000)]
    full = account_from_messages(30003, listed, 1000, NOW - timedelta(hours=1), NOW)
    assert full.sample_full and full.since == NOW - timedelta(minutes=24.975)
    assert full.scope() == (
        "the latest 1000 messages Twilio listed, 25 min (2026-11-23 11:35 UTC to 12:00 UTC)"
    )
    some = account_from_messages(30003, listed[:10], 1000, NOW - timedelta(hours=1), NOW)
    assert some.scope() == "the 10 messages Twilio listed for 2026-11-23 11:00 UTC to 12:00 UTC"


def test_the_watchers_counts_cover_the_whole_span():
    counts = [(NOW, None, 90), (NOW, 30003, 6), (NOW, 30005, 4)]
    failing = Failures({f"+1202555{i:04d}": n for i, n in enumerate([2, 2, 1, 1])})
    found = account_from_counts(30003, counts, failing, NOW - timedelta(hours=1), NOW)
    assert (found.failed, found.final, found.recipients, found.rate) == (6, 100, 4, 0.06)
    assert (
        found.scope() == "every message the watcher recorded from 2026-11-23 11:00 UTC to 12:00 UTC"
    )


def test_an_incident_on_the_code_is_part_of_the_report():
    opened, closed = NOW - timedelta(minutes=50), NOW - timedelta(minutes=20)
    over = IncidentNote(30003, "critical", opened, closed, 0.165, sent=NOW - timedelta(minutes=40))
    text = report(msg(1), incident=over).sections()[-1]
    assert text.heading == "Across the account"
    assert text.items == (
        "This message was sent during an incident on 30003, from 2026-11-23 11:10 UTC to "
        "11:40 UTC, peaking at 16.5%.",
    )
    # Sent in the minutes whose failures opened it: not "during" it.
    early = IncidentNote(
        30003, "critical", opened, closed, 0.165, sent=opened - timedelta(minutes=3)
    )
    assert report(msg(1), incident=early).sections()[-1].items == (
        "This message was sent 3 min before the watcher opened an incident on 30003 "
        "(2026-11-23 11:10 UTC to 11:40 UTC, peaking at 16.5%), among the failures that "
        "opened it.",
    )
    still = IncidentNote(30002, "critical", opened, None, 0.0, sent=NOW, suspension=True)
    assert report(msg(1), incident=still).sections()[-1].items == (
        "An incident on 30002 is open: critical, since 2026-11-23 11:10 UTC. "
        "See the alert channel.",
    )
    assert report(msg(1, "delivered", None), incident=still).incident is None


@pytest.mark.parametrize(("price", "shown"), [("-0.00790", "0.0079 USD"), ("free", "free USD")])
def test_a_price_twilio_did_not_write_as_a_number_is_shown_as_it_is(price, shown):
    assert dict(report(msg(1, price=price, price_unit="USD")).facts())["Price"] == shown


def test_a_messaging_service_api_error_explains_the_late_failure():
    target = msg(1, "failed", 21610, messaging_service_sid="MG" + "2" * 32)
    assert any("arrived later as a `failed` message" in a for a in report(target).advice)
    without_service = msg(1, "failed", 21610)
    assert not any("arrived later" in a for a in report(without_service).advice)


@pytest.mark.parametrize("status", sorted(STATUS_MEANINGS))
def test_every_status_is_explained(status):
    facts = dict(report(msg(1, status, None)).facts())
    assert facts["Status"] == f"`{status}`: {STATUS_MEANINGS[status]}"


def test_masked_facts_hide_both_numbers():
    masked = dict(report(msg(1)).facts(masked=True))
    assert masked["To"] == "+1•••••••156" and "5550006" not in masked["From"]
    assert dict(report(msg(1)).facts())["To"] == TO


@pytest.mark.parametrize(
    ("held", "report", "decided", "held_decided", "takes"),
    [
        (None, "sent", None, None, True),
        ("sent", "delivered", None, None, True),
        ("delivered", "sent", None, None, False),  # late, and not final
        ("delivered", "delivered", None, None, False),  # a duplicate
        ("delivered", "undelivered", None, None, False),  # a replay saying nothing newer
        ("delivered", "undelivered", "2611231704", None, False),  # against the poll: no
        ("delivered", "undelivered", "2611230900", "2611230905", False),  # decided before
        ("delivered", "undelivered", "2611230910", "2611230905", True),  # decided after
    ],
)
def test_a_status_report_changes_a_message_only_forward(held, report, decided, held_decided, takes):
    from bot.domain.messages import takes_report

    code = {"undelivered": 30003}
    before = None if held is None else msg(60, held, code.get(held), date_updated=NOW)
    after = msg(60, report, code.get(report))
    assert takes_report(before, after, decided, held_decided) is takes


def test_the_incident_shown_is_the_open_one_else_the_one_the_message_fell_in():
    from bot.answers.account_view import incident_note
    from bot.domain.alerting import Incident
    from bot.domain.thresholds import Severity

    window = timedelta(minutes=15)
    opened, closed = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    old = Incident("k", 30003, Severity.CRITICAL, opened, closed, resolved_at=closed, peak_rate=0.2)
    note = incident_note([old], 30003, opened - timedelta(minutes=10), window)
    assert note is not None and note.peak_rate == 0.2
    assert incident_note([old], 30003, opened - timedelta(minutes=20), window) is None
    assert incident_note([old], 30003, closed + timedelta(minutes=1), window) is None
    live = Incident("k", 30003, Severity.WARNING, NOW, NOW)
    note = incident_note([old, live], 30003, opened, window)
    assert note is not None and note.severity == "warning"
