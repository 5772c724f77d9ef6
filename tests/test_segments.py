"""Detection per segment (pure): which segments fire, against their own history, with the
false-alarm budget spread over all of them."""

import random
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot import settings
from bot.domain import alerting, segments, traffic
from bot.domain.segments import (
    Budget,
    History,
    Segment,
    SegmentCounts,
    SegmentKind,
    Window,
    judge,
    named,
)
from bot.domain.spikes import Reading
from bot.domain.thresholds import Severity

T = settings.load({}).thresholds
BUDGET = Budget(alpha=1e-4, prior_messages=200, short_minutes=5)
GB = Segment(SegmentKind.COUNTRY, "GB")
US = Segment(SegmentKind.COUNTRY, "US")
SENDER = Segment(SegmentKind.SENDER, "+15005550102")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def steady(rate: float, per_hour: int, hours: int = 168) -> History:
    """A week of hours at exactly `rate` (as close as whole messages allow)."""
    return segments.history([(per_hour, round(per_hour * rate))] * hours)


def counts(segment, final, failed, history, recipients=None) -> SegmentCounts:
    return SegmentCounts(
        segment, final, failed, failed if recipients is None else recipients, history
    )


def one_window(*found: SegmentCounts, account_final: int = 10_000) -> list[Window]:
    return [Window(15, account_final, tuple(found))]


def test_a_small_country_failing_fires_where_the_account_rate_barely_moves():
    # The UK carries 2 % of the traffic and fails entirely; the US is as it always is.
    windows = one_window(
        counts(GB, 40, 40, steady(0.01, 200)),
        counts(US, 1960, 20, steady(0.01, 7800)),
        account_final=2000,
    )
    # The account: 60 of 2 000, 3 %: under the 5 % account-wide rule.
    [fired] = judge(windows, 0.01, T, BUDGET)
    assert fired.segment == GB
    assert fired.severity == Severity.CRITICAL
    assert fired.rate == 1.0 and fired.share == pytest.approx(0.02)
    assert fired.baseline == pytest.approx(0.01, abs=0.001)
    assert fired.minutes == 15


@pytest.mark.parametrize(
    ("final", "failed", "recipients", "history", "fires"),
    [
        (40, 40, None, steady(0.01, 200), True),
        (40, 40, 4, steady(0.01, 200), False),  # four numbers retried: under the floor
        (40, 40, 5, steady(0.01, 200), True),  # five: at it
        (40, 3, None, steady(0.01, 200), False),  # 7.5 %, but only three recipients
        (400, 24, None, steady(0.01, 1600), True),  # 6 %: 6x, and 5 points over exactly
        (400, 23, None, steady(0.01, 1600), False),  # 5.75 %: under 5 points over
        (400, 60, None, steady(0.08, 1600), False),  # 15 % against its own 8 %: under 3x
        (400, 110, None, steady(0.08, 1600), True),  # 27.5 %: 3.4x and 19.5 points over
        # No history: the account's 1 % stands in for it, weighing as 200 messages.
        (20, 5, None, History(), False),  # 25 %: p about 1e-4, not past the budget
        (20, 8, None, History(), True),  # 40 %: p about 2e-7
        # A short history of its own, at 20 %, leaned toward the account's: 14.6 %.
        (60, 25, None, History(500, 100), False),  # 42 %: under 3x
        (60, 30, None, History(500, 100), True),  # 50 %
    ],
)
def test_what_fires(final, failed, recipients, history, fires):
    windows = one_window(counts(GB, final, failed, history, recipients), account_final=10_000)
    assert bool(judge(windows, 0.01, T, BUDGET)) == fires


def test_severity_follows_the_excess_over_its_own_baseline():
    warning = judge(one_window(counts(GB, 400, 32, steady(0.01, 1600))), 0.01, T, BUDGET)
    critical = judge(one_window(counts(GB, 400, 48, steady(0.01, 1600))), 0.01, T, BUDGET)
    assert [r.severity for r in warning] == [Severity.WARNING]  # 8 %: 7 points over
    assert [r.severity for r in critical] == [Severity.CRITICAL]  # 12 %: 11 points over


def test_the_budget_is_shared_by_every_segment_evaluated():
    # A moderate excess is believed alone, not when it is one of a thousand tests.
    suspect = counts(GB, 200, 13, steady(0.01, 800))  # 6.5 %, p about 2e-7
    alone = judge(one_window(suspect), 0.01, T, BUDGET)
    quiet = [
        counts(Segment(SegmentKind.SENDER, f"MG{i:032x}"), 200, 2, steady(0.01, 800))
        for i in range(1000)
    ]
    crowded = judge(one_window(suspect, *quiet), 0.01, T, BUDGET)
    assert [r.segment for r in alone] == [GB]
    assert crowded == ()


def test_a_segment_whose_hours_swing_needs_more_to_fire():
    rng = random.Random(3)
    calm = segments.history([(1000, 20)] * 168)
    swinging = segments.history(
        [(1000, round(20 * 2.718 ** rng.gauss(0, 0.5))) for _ in range(168)]
    )
    assert calm.spread == 0.0 and swinging.spread > 0.3
    window = (250, 25)  # 10 % against 2 %: 5x
    assert judge(one_window(counts(GB, *window, calm)), 0.02, T, BUDGET)
    assert not judge(one_window(counts(GB, *window, swinging)), 0.02, T, BUDGET)
    # An outage is still an outage.
    assert judge(one_window(counts(GB, 250, 150, swinging)), 0.02, T, BUDGET)


def test_an_outage_last_week_does_not_numb_the_segment():
    hours = [(1000, 20)] * 166 + [(1000, 1000)] * 2  # two hours of every message failing
    history = segments.history(hours)
    assert history.spread == 0.0  # the median hour is what it always is
    assert history.failed == 166 * 20 + 2000  # ... though the baseline holds the outage


def test_spread_needs_hours_that_expect_failures():
    # An hour expecting under five failures says little about how the rate swings.
    assert segments.history([(100, 1), (100, 3)] * 84).spread == 0.0
    assert segments.history([]) == History()
    quiet = segments.history([(100, 0)] * 168)
    assert (quiet.final, quiet.failed, quiet.spread) == (16_800, 0, 0.0)


def test_each_segment_fires_once_in_its_worse_window():
    history = steady(0.01, 800)
    long = Window(15, 3000, (counts(GB, 200, 14, history),))  # 7 %: a warning
    short = Window(5, 1000, (counts(GB, 70, 12, history),))  # 17 %: critical
    [fired] = judge([long, short], 0.01, T, BUDGET)
    assert (fired.minutes, fired.severity, fired.share) == (5, Severity.CRITICAL, 0.07)
    both_warn = Window(5, 1000, (counts(GB, 70, 6, history),))  # 8.6 %: warning as well
    [fired] = judge([long, both_warn], 0.01, T, BUDGET)
    assert fired.minutes == 15  # the longer says more


def test_a_segment_with_nearly_all_the_traffic_is_left_to_the_account_s_rule():
    history = steady(0.01, 800)
    assert (
        judge(one_window(counts(US, 1800, 400, history), account_final=2000), 0.01, T, BUDGET) == ()
    )
    assert judge(one_window(counts(US, 1799, 400, history), account_final=2000), 0.01, T, BUDGET)


def test_worst_first():
    history = steady(0.01, 800)
    found = judge(
        one_window(
            counts(US, 200, 14, history),  # warning, excess 12
            counts(SENDER, 200, 40, history),  # critical, excess 38
            counts(GB, 200, 100, history),  # critical, excess 98
        ),
        0.01,
        T,
        BUDGET,
    )
    assert [r.segment for r in found] == [GB, SENDER, US]


def test_an_incident_is_named_after_a_segment_holding_most_of_the_excess():
    history = steady(0.01, 800)
    [gb] = judge(one_window(counts(GB, 200, 100, history)), 0.01, T, BUDGET)
    # The account: 130 of 2 000 failing against 1 %: an excess of 110, GB's is 98 (89 %).
    assert named([gb], 130, 2000, 0.01) == gb
    # 150 failing: an excess of 130, GB's 98 is 75.4 % of it; 151: 74.8 %.
    assert named([gb], 150, 2000, 0.01) == gb
    assert named([gb], 151, 2000, 0.01) is None
    # Failures everywhere: GB's 98 is a third of the account's 300.
    assert named([gb], 320, 2000, 0.01) is None
    assert named([], 130, 2000, 0.01) is None


@pytest.mark.parametrize(
    ("segment", "label"),
    [
        (GB, "United Kingdom (+44)"),
        (Segment(SegmentKind.COUNTRY, "US"), "United States (+1)"),
        (SENDER, "sender +1•••••••102"),  # a channel sees it: masked
        (Segment(SegmentKind.SENDER, "MG" + "0" * 32), "Messaging Service MG" + "0" * 32),
        (Segment(SegmentKind.CARRIER, "Vodafone UK"), "carrier Vodafone UK"),
    ],
)
def test_a_segment_is_named_for_a_channel(segment, label):
    assert segment.label == label


def test_two_segments_failing_alike_name_neither_whichever_rule_fires():
    history = steady(0.01, 800)
    found = judge(
        one_window(counts(GB, 200, 100, history), counts(US, 200, 100, history)),
        0.01,
        T,
        BUDGET,
    )
    reading = Reading(
        30003, Severity.CRITICAL, 200, 2000, 200, 0.01, NOW, NOW, (), (), (), (), (),
        segments=found,
    )  # fmt: skip
    # Neither holds three quarters of the excess: the account's incident, listing both,
    # with the account's rule firing or not (a name must not come and go with it).
    assert replace(reading, account_severity=Severity.CRITICAL).named is None
    assert reading.named is None
    assert [s.segment for s in reading.segments] == [GB, US]


def test_a_mute_takes_its_messages_out_of_every_segment_and_the_account():
    # 40 messages to GB, all failing, from sender MGuk over carrier EE; 960 to the US.
    [found] = traffic.traffics(
        1,
        [(("GB", "MGuk", "EE", None), 0, 40), (("US", "+15005550006", "EE", None), 0, 960)],
        [(("GB", "MGuk", "EE", None), 0, 30003, f"+4474001{i:05d}", 1) for i in range(40)],
    )
    assert found.account_failed == {30003: 40} and found.messages == 1000
    clean = found.without({GB})
    assert clean.messages == 960 and clean.account_failed == {}
    assert Segment(SegmentKind.SENDER, "MGuk") not in clean.final  # gone with GB
    assert clean.final[Segment(SegmentKind.CARRIER, "EE")] == 960  # what is left of it
    assert found.without(()) is found


def test_carriers_count_only_where_most_of_the_traffic_has_one():
    known = traffic.traffics(
        1, [(("US", "S", "EE", "AC1"), 0, 60), (("US", "S", None, "AC1"), 0, 40)], []
    )
    unknown = traffic.traffics(
        1, [(("US", "S", "EE", "AC1"), 0, 40), (("US", "S", None, "AC1"), 0, 60)], []
    )
    kinds = [
        {c.segment.kind for c in w.counts}
        for w in traffic.windows(30003, [(15, known[0])], {})
        + traffic.windows(30003, [(15, unknown[0])], {})
    ]
    assert kinds == [
        {SegmentKind.COUNTRY, SegmentKind.SENDER, SegmentKind.CARRIER},
        {SegmentKind.COUNTRY, SegmentKind.SENDER},
    ]
    # Accounts are segments only while subaccounts are watched (issue 18, item 2).
    with_accounts = traffic.windows(30003, [(15, known[0])], {}, subaccounts=True)
    assert {c.segment for c in with_accounts[0].counts} >= {Segment(SegmentKind.SUBACCOUNT, "AC1")}


def test_the_name_shown_is_kept_while_it_still_holds_the_trouble():
    history = steady(0.01, 800)
    sender = Segment(SegmentKind.SENDER, "MGuk")
    # A country and its one sender carry the same failures: either could be worst.
    found = judge(
        one_window(counts(GB, 200, 100, history), counts(sender, 200, 101, history)),
        0.01,
        T,
        BUDGET,
    )
    reading = Reading(
        30003, Severity.CRITICAL, 101, 2000, 101, 0.01, NOW, NOW, (), (), (), (), (),
        segments=found,
    )  # fmt: skip
    assert reading.named is not None and reading.named.segment == sender
    shown = replace(reading, segments=tuple(reversed(found)))
    assert shown.named is not None and shown.named.segment == GB
    kept = alerting.keep_name(shown, reading)
    assert kept.named is not None and kept.named.segment == GB
    # Quiet: the message still says what it is about.
    quiet = replace(reading, severity=None, segments=())
    assert alerting.keep_name(shown, quiet).named == shown.named
