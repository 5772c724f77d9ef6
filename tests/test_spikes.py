"""Spike detection and incident decisions (pure, with the clock passed in)."""

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot import settings
from bot.domain import failures
from bot.domain.account_readings import fresh_since, suspension_reading
from bot.domain.alerting import Incident, evaluate, incident_key, keep_samples, worth_showing
from bot.domain.failures import Failures
from bot.domain.messages import Message, when
from bot.domain.spikes import Baseline, Reading, measure, render_spark, spark
from bot.domain.thresholds import Severity
from bot.tuning import DEFAULT_TUNING

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
T = settings.load({}).thresholds  # the defaults, from the one settings table
BUDGET = DEFAULT_TUNING.segment_budget
QUIET = Baseline(final=10_000, failed=100)  # a 1 % baseline
KEY = incident_key("AC" + "0" * 32, 30003)


def sent(
    minutes_ago: float,
    code: int | None = None,
    to: str = "",
    i: int = 0,
    status: str = "",
    direction: str = "outbound-api",
    **fields,
) -> Message:
    moment = NOW - timedelta(minutes=minutes_ago)
    return Message(
        sid=f"SM{i:032x}",
        status=status or ("undelivered" if code else "delivered"),
        to=to or f"+1202555{i % 10000:04d}",
        from_="+15005550006",
        direction=direction,
        error_code=code,
        date_created=moment,
        date_sent=moment,
        **fields,
    )


def traffic(
    total: int, failing: int, code: int = 30003, recipients: int | None = None
) -> list[Message]:
    """`total` messages over the last 10 minutes, `failing` of them with `code`, spread over
    `recipients` distinct numbers (default: all different)."""
    out = []
    for i in range(total):
        fails = i < failing
        to = f"+1202555{(i % recipients) if (fails and recipients) else i:04d}"
        out.append(sent(i * 10 / total, code if fails else None, to=to, i=i))
    return out


@pytest.mark.parametrize(
    ("total", "failing", "recipients", "baseline", "severity"),
    [
        (100, 6, None, QUIET, "warning"),  # 6 %: above 5 % and 3x the 1 % baseline
        (100, 12, None, QUIET, "critical"),  # 12 %: above 10 %
        (100, 4, None, QUIET, None),  # 4 %: under the warning rate
        (10, 5, None, QUIET, None),  # 50 %, but 10 messages are too few to call
        (100, 50, 1, QUIET, None),  # one number retried 50 times
        (100, 50, 4, QUIET, None),  # four recipients: still under five
        (100, 8, None, Baseline(10_000, 300), None),  # 8 % against a 3 % normal: under 3x
        (100, 10, None, Baseline(10_000, 300), "critical"),  # 10 % against 3 %: 3.3x
        (100, 6, None, Baseline(0, 0), "warning"),  # no history yet: the rate alone decides
        # Each threshold at its exact edge counts; one short does not.
        (100, 5, None, QUIET, "warning"),  # exactly 5 %
        (100, 10, None, QUIET, "critical"),  # exactly 10 %
        (20, 5, None, QUIET, "critical"),  # exactly 20 messages
        (19, 5, None, QUIET, None),
        (100, 10, 5, QUIET, "critical"),  # exactly 5 recipients
    ],
)
def test_severity(total, failing, recipients, baseline, severity):
    reading = measure(30003, traffic(total, failing, recipients=recipients), baseline, {}, T, NOW)
    assert reading.severity == severity
    assert (reading.final, reading.failed) == (total, failing)


def test_one_suspension_is_critical_at_once():
    reading = measure(30002, [sent(1, 30002, status="failed")], QUIET, {}, T, NOW)
    assert reading.severity == "critical" and reading.failed == 1


def test_an_account_that_is_not_active_is_critical_without_a_message():
    reading = measure(30002, [], Baseline(0, 0), {}, T, NOW)
    assert reading.severity is None
    assert suspension_reading(reading, "suspended", None, watched=False).severity == "critical"
    assert suspension_reading(reading, "active", None, watched=True).severity is None


def test_30002s_from_before_the_account_was_last_seen_suspended_do_not_keep_it_open():
    old, new = sent(5, 30002, i=1, status="failed"), sent(1, 30002, i=2, status="failed")
    reading = measure(30002, [old, new], QUIET, {}, T, NOW)
    assert reading.failed == 2

    def fresh(seen: datetime) -> Failures | None:
        since = fresh_since(reading.since, seen)
        return None if since is None else failures.of_messages([old, new], 30002, since, NOW)

    seen = NOW - timedelta(minutes=3)  # the last cycle that saw it suspended
    after = suspension_reading(reading, "active", fresh(seen), watched=True)
    assert (after.severity, after.failed, after.samples) == ("critical", 1, (new.sid,))
    over = suspension_reading(reading, "active", fresh(NOW - timedelta(seconds=1)), True)
    assert (over.severity, over.failed) == (None, 0)
    # One sent at the very moment the account was last seen suspended belongs to it.
    at_once = suspension_reading(reading, "active", fresh(when(new)), True)
    assert (at_once.severity, at_once.failed) == (None, 0)
    unwatched = suspension_reading(reading, "active", None, watched=False)
    assert unwatched.severity is None and unwatched.failed == 2


def test_only_outbound_final_messages_in_the_window_count():
    messages = [
        *traffic(20, 0),
        sent(1, 30003, i=900, direction="inbound"),
        sent(1, None, i=901, status="sent"),  # not final yet
        sent(20, 30003, i=902),  # before the 15-minute window
    ]
    reading = measure(30003, messages, QUIET, {}, T, NOW)
    assert (reading.final, reading.failed) == (20, 0)


def test_breakdowns_and_samples_come_from_the_failures():
    failing = [
        sent(1, 30003, to="+12025550101", i=1, messaging_service_sid="MG1"),
        sent(2, 30003, to="+442079460018", i=2, messaging_service_sid="MG1"),
        sent(3, 30003, to="+12025550103", i=3),
        sent(4, 30003, to="+12025550104", i=4),
    ]
    reading = measure(
        30003, [*failing, *traffic(30, 0)], QUIET, {"+12025550101": "Verizon"}, T, NOW
    )
    assert reading.senders == (("+15005550006", 2), ("MG1", 2))  # a tie: the smaller first
    assert reading.countries == (("US", 3), ("GB", 1))
    assert reading.carriers == (("Verizon", 1),)
    assert reading.samples == (failing[0].sid, failing[1].sid, failing[2].sid)


def test_spark_has_twelve_five_minute_buckets():
    messages = [sent(2, 30003, i=1), sent(3, None, i=2), sent(58, None, i=3)]
    rates = spark(30003, messages, NOW)
    assert len(rates) == 12
    assert rates[0] == 0.0 and rates[-1] == 0.5
    assert rates[1:-1] == (None,) * 10
    assert render_spark(rates) == "▁" + " " * 10 + "█"
    assert render_spark((None, None)) == "  "


def test_a_simulated_day_of_noise_around_one_percent_never_fires():
    rng = random.Random(7)
    fired = []
    for minute in range(0, 24 * 60, 5):
        now = NOW + timedelta(minutes=minute)
        messages = [
            sent(
                (NOW - now).total_seconds() / 60 + rng.uniform(0, 15),
                30003 if rng.random() < 0.01 else None,
                i=j,
            )
            for j in range(300)
        ]
        reading = measure(30003, messages, QUIET, {}, T, now)
        fired += [reading] if reading.severity else []
    assert fired == []


# -- decisions ---------------------------------------------------------------------------


def reading(severity: Severity | None, rate_failed: int = 10) -> Reading:
    messages = traffic(100, rate_failed)
    return replace(measure(30003, messages, QUIET, {}, T, NOW), severity=severity)


def test_a_spike_opens_changes_and_resolves_one_incident():
    step = evaluate(None, reading(Severity.WARNING, 6), KEY, T, NOW)
    assert step.event == "opened" and step.tell_slack
    incident = step.incident
    assert incident is not None and incident.severity == "warning"

    step = evaluate(incident, reading(Severity.CRITICAL, 12), KEY, T, NOW + timedelta(minutes=1))
    assert step.event == "escalated" and "now critical, at 12.0%" in (step.note or "")
    incident = step.incident

    for minute in (2, 3):
        step = evaluate(incident, reading(None, 1), KEY, T, NOW + timedelta(minutes=minute))
        assert step.incident is not None
        assert step.event == "updated" and step.incident.resolved_at is None
        incident = step.incident
    step = evaluate(incident, reading(None, 1), KEY, T, NOW + timedelta(minutes=4))
    assert step.incident is not None and step.note is not None
    assert step.event == "resolved" and step.incident.resolved_at == NOW + timedelta(minutes=4)
    assert step.note.endswith("resolved after 4 min; the rate peaked at 12.0%.")


def test_a_spike_back_before_resolution_resets_the_quiet_count():
    incident = evaluate(None, reading(Severity.WARNING, 6), KEY, T, NOW).incident
    incident = evaluate(incident, reading(None, 1), KEY, T, NOW).incident
    incident = evaluate(incident, reading(Severity.WARNING, 6), KEY, T, NOW).incident
    assert incident is not None
    assert incident.quiet == 0


def test_nothing_wrong_and_no_incident_is_nothing():
    assert evaluate(None, reading(None, 1), KEY, T, NOW).incident is None


def test_a_resolved_incident_is_history_and_a_new_spike_opens_another():
    old = Incident(KEY, 30003, Severity.WARNING, NOW, NOW, resolved_at=NOW, id=4)
    step = evaluate(old, reading(Severity.WARNING, 6), KEY, T, NOW)
    assert step.incident is not None
    assert step.event == "opened" and step.incident.id is None


def test_a_muted_incident_stays_quiet_until_it_resolves():
    muted = Incident(KEY, 30003, Severity.WARNING, NOW, NOW, muted_until=NOW + timedelta(hours=1))
    assert not evaluate(muted, reading(Severity.CRITICAL, 12), KEY, T, NOW).tell_slack
    two_quiet = Incident(
        KEY, 30003, Severity.WARNING, NOW, NOW, quiet=2, muted_until=NOW + timedelta(hours=1)
    )
    assert evaluate(two_quiet, reading(None, 1), KEY, T, NOW).tell_slack


OPEN = Incident(KEY, 30003, Severity.WARNING, NOW, NOW, id=4)


@pytest.mark.parametrize(
    ("shown", "now", "before", "after", "worth"),
    [
        (None, 6, None, OPEN, True),  # the first post
        (6, 6, None, OPEN, True),  # a new incident after a resolved one
        (6, 7, OPEN, OPEN, False),  # one point: not news
        (6, 9, OPEN, OPEN, False),  # three points: not yet
        (6, 10, OPEN, OPEN, True),  # four points
        (10, 6, OPEN, OPEN, True),  # and down
        (6, 7, OPEN, replace(OPEN, severity=Severity.CRITICAL), True),
        (6, 6, OPEN, replace(OPEN, resolved_at=NOW), True),
        (6, 6, OPEN, replace(OPEN, quiet=1), True),  # recovery starts
        (6, 6, replace(OPEN, quiet=1), replace(OPEN, quiet=2), False),  # and goes on
        (6, 6, replace(OPEN, quiet=2), OPEN, True),  # firing again
    ],
)
def test_an_incident_is_redrawn_only_for_what_a_reader_acts_on(shown, now, before, after, worth):
    drawn = None if shown is None else reading(Severity.WARNING, shown)
    assert worth_showing(drawn, reading(Severity.WARNING, now), before, after) is worth


def test_doubled_recipients_and_a_changed_account_status_are_news():
    drawn = replace(reading(Severity.WARNING, 6), recipients=10)
    assert not worth_showing(drawn, replace(drawn, recipients=19), OPEN, OPEN)
    assert worth_showing(drawn, replace(drawn, recipients=20), OPEN, OPEN)
    assert worth_showing(drawn, replace(drawn, account_status="closed"), OPEN, OPEN)


def test_samples_shown_are_kept_and_new_ones_fill_the_gaps():
    drawn = replace(reading(Severity.WARNING, 6), samples=("SMa",))
    now = replace(drawn, samples=("SMc", "SMb", "SMa"))
    assert keep_samples(drawn, now).samples == ("SMa", "SMc", "SMb")
    full = replace(drawn, samples=("SMa", "SMb", "SMc"))
    assert keep_samples(full, replace(now, samples=("SMx", "SMy", "SMz"))).samples == (
        "SMa",
        "SMb",
        "SMc",
    )
    assert keep_samples(None, now).samples == now.samples


def test_a_baseline_the_rollup_has_not_finished_says_the_history_it_rests_on():
    """Issue 19, item 1: while a week's first count goes over several cycles, the alert's
    baseline says how many hours it rests on; the watcher's own span counts too."""
    from bot.domain.spikes import tally
    from bot.watcher import detect

    thresholds = settings.load({}).thresholds
    until = NOW - timedelta(minutes=30)

    def evidence(counted_hours: float | None, watched_since: datetime | None) -> detect.Evidence:
        return detect.Evidence(
            counted=tally([], thresholds.window, NOW),
            failures={code: Failures() for code in (30002, 30003)},
            fresh_suspensions=None,
            carriers={},
            baselines={code: Baseline(1000, 10, hours=counted_hours) for code in (30002, 30003)},
            watched_since=watched_since,
        )

    def hours(e: detect.Evidence) -> float | None:
        [_, reading] = detect.readings(e, (30003,), thresholds, BUDGET, "active", until, NOW)
        return reading.baseline_hours

    assert hours(evidence(None, None)) is None  # a whole week
    assert hours(evidence(12, None)) == 12  # the rollup has counted 12 hours so far
    assert hours(evidence(None, until - timedelta(hours=30))) == 30  # watched for 30 h
    assert hours(evidence(12, until - timedelta(hours=30))) == 12  # the lesser
