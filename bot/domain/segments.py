"""Segments: one watched code judged per destination country, sender and carrier, each
against its own history, so an outage in a small part of the traffic is seen though the
account's rate barely moves.

Pure. A segment is judged in three steps:
- it must look like an incident: enough distinct recipients, and a rate that clears both
  ALERT_BASELINE_FACTOR times its baseline and ALERT_WARNING_PERCENT points above it;
- its excess must be significant: a one-sided test of the window against its own history
  (`significance.excess_p`), whose baseline leans toward the account's rate while the
  segment's own history is short (`Budget.prior_messages`);
- and believed across the segments of the code's evaluation: Holm's correction at `Budget.alpha`,
  the chance per evaluation of any false alarm at all.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from math import log, sqrt
from statistics import median

from bot.domain import countries
from bot.domain.privacy import mask_numbers_in
from bot.domain.significance import excess_p, holm, lognormal_binomial_tail
from bot.domain.thresholds import Severity, Thresholds


class SegmentKind(StrEnum):
    COUNTRY = "country"  # region of the recipient's number (phonenumbers, offline)
    SENDER = "sender"  # the Messaging Service, or the From number without one
    CARRIER = "carrier"  # the recipient's carrier, where a lookup has told it
    # The account or subaccount that sent it: judged only while subaccounts are watched.
    SUBACCOUNT = "subaccount"


@dataclass(frozen=True, order=True)
class Segment:
    kind: SegmentKind
    value: str  # "GB"; "MG…" or "+14155550100"; "Vodafone UK"

    @property
    def label(self) -> str:
        """As an alert names it, numbers masked (alerts go to a channel): "United Kingdom
        (+44)", "sender +1•••••••102", "Messaging Service MG…", "carrier Vodafone UK"."""
        if self.kind == SegmentKind.COUNTRY:
            return countries.label(self.value)
        if self.kind == SegmentKind.SENDER:
            if self.value.startswith("MG"):
                return f"Messaging Service {self.value}"
            return f"sender {mask_numbers_in(self.value)}"
        if self.kind == SegmentKind.SUBACCOUNT:
            return f"account {self.value}"  # the parent's own, or a subaccount's
        return f"carrier {self.value}"


@dataclass(frozen=True)
class Budget:
    """How much noise detection per segment may turn into incidents."""

    alpha: float  # chance per evaluation of one code that any segment fires on noise alone
    prior_messages: int  # the account's rate counts as this many messages of a segment's history
    # Each segment is judged over the alert window and over its last minutes too, so an
    # outage is not diluted by the quarter of an hour before it began.
    short_minutes: int


@dataclass(frozen=True)
class History:
    """One segment's baseline for one code: its final messages, those with the code, and
    its hours, to tell how much its rate moves from hour to hour beyond chance."""

    final: int = 0
    failed: int = 0
    hours: tuple[tuple[int, int], ...] = ()  # (final, failed) of each hour with traffic

    @cached_property
    def spread(self) -> float:
        """The standard deviation of the hourly rate's logarithm, chance removed; 0 when it
        cannot be told. Measured on the hours that expect a few failures at least,
        robustly (median absolute deviation), so an outage last week does not make the
        segment numb for the next one. Worked out only when a segment is judged."""
        if not self.failed:
            return 0.0
        p = self.failed / self.final
        usable = [(f, k) for f, k in self.hours if f * p >= _MIN_EXPECTED]
        if len(usable) < _MIN_HOURS:
            return 0.0
        logs = [log((k + 0.5) / (f * p)) for f, k in usable]
        centre = median(logs)
        deviation = _MAD_TO_SD * median(abs(x - centre) for x in logs)
        chance = median(1 / (f * p) for f, _ in usable)  # what sampling alone spreads a log by
        return sqrt(max(0.0, deviation**2 - chance))


NAMED = 0.75  # the share of the account's excess failures a segment must hold to name it
WHOLE = 0.9  # a segment with this share of a window's traffic is not judged apart from it
_EDGE = 1e-9  # how far under a threshold a rate may be and still be at it
_MAD_TO_SD = 1.4826  # a normal's standard deviation is this many median absolute deviations
_MIN_HOURS = 12  # hours with enough failures to measure a spread on
_MIN_EXPECTED = 5  # failures an hour must expect to take part


def history(hours: Sequence[tuple[int, int]]) -> History:
    """A History from hourly (final, failed) counts."""
    busy = tuple((f, k) for f, k in hours if f > 0)
    return History(sum(f for f, _ in busy), sum(k for _, k in busy), busy)


@dataclass(frozen=True)
class SegmentCounts:
    """One segment, for one code: the window's final messages, and its history."""

    segment: Segment
    final: int
    failed: int  # with the code
    recipients: int  # distinct numbers among those that failed
    history: History


@dataclass(frozen=True)
class SegmentReading:
    """A segment that fires: its figures in the window and what they were judged against."""

    segment: Segment
    severity: Severity
    failed: int
    final: int
    recipients: int
    baseline: float  # the rate it was judged against
    history: int  # final messages of its own behind that baseline
    share: float  # of the account's final messages in the window
    p_value: float
    minutes: int  # the window it was measured over

    @property
    def rate(self) -> float:
        return self.failed / self.final if self.final else 0.0

    @property
    def excess(self) -> float:
        """Failures above what its baseline expects of the window."""
        return self.failed - self.final * self.baseline


@dataclass(frozen=True)
class Window:
    """The span one judgement looks at: the account's final messages in it, and each
    segment's counts."""

    minutes: int
    final: int
    counts: tuple[SegmentCounts, ...]


def judge(
    windows: Sequence[Window],
    account_rate: float | None,
    thresholds: Thresholds,
    budget: Budget,
    apart: frozenset[Segment] = frozenset(),
) -> tuple[SegmentReading, ...]:
    """The segments that fire, worst first (critical before warning, then by excess), each
    once: in the window where it is worse, or the longer of two equally bad. Every
    segment with some but not nearly all of a window's traffic counts as one test of the
    family, and so does each of `apart` (watched subaccounts) however much it has."""
    judged = [
        (window, c, *_test(c, account_rate, thresholds, budget))
        for window in windows
        for c in window.counts
        # A segment with (nearly) all the traffic is the account: its rule speaks for it.
        # Not a watched subaccount's: its trouble is its own incident, however busy.
        if c.final > 0 and (c.segment in apart or c.final < WHOLE * window.final)
    ]
    believed = holm([p for _, _, _, p in judged], budget.alpha)
    found: dict[Segment, SegmentReading] = {}
    for (window, c, baseline, p), yes in zip(judged, believed, strict=True):
        if not yes:
            continue
        reading = SegmentReading(
            segment=c.segment,
            severity=(
                Severity.CRITICAL
                if c.failed / c.final - baseline >= thresholds.critical_rate - _EDGE
                else Severity.WARNING
            ),
            failed=c.failed,
            final=c.final,
            recipients=c.recipients,
            baseline=baseline,
            history=c.history.final,
            share=c.final / window.final if window.final else 0.0,
            p_value=p,
            minutes=window.minutes,
        )
        held = found.get(c.segment)
        if held is None or _rank(reading) > _rank(held):
            found[c.segment] = reading
    return tuple(sorted(found.values(), key=_worst_first))


def _test(
    c: SegmentCounts, account_rate: float | None, thresholds: Thresholds, budget: Budget
) -> tuple[float, float]:
    """The rate `c` is judged against, and the p-value of its excess (1 when it does not
    look like an incident at all)."""
    h = c.history
    # The account's rate stands in for a short history; unknown, it stands for nothing.
    prior = budget.prior_messages if account_rate is not None else 0
    base_final = h.final + prior
    base_failed = h.failed + prior * (account_rate or 0.0)
    baseline = base_failed / base_final if base_final else 0.0
    rate = c.failed / c.final
    looks_like = (
        c.recipients >= thresholds.min_recipients
        # At the edge counts, as it does for the account's rule (floats miss it by ulps).
        and rate >= thresholds.baseline_factor * baseline - _EDGE
        and rate - baseline >= thresholds.warning_rate - _EDGE
    )
    if not looks_like:
        return baseline, 1.0
    p = excess_p(c.failed, c.final, base_failed, base_final)
    if h.spread > 0:
        # Chance is not all that moves a rate: a segment whose hours swing by a factor
        # must go past what its swings explain.
        p = max(p, lognormal_binomial_tail(c.failed, c.final, baseline, h.spread))
    return baseline, p


def _rank(s: SegmentReading) -> tuple[bool, int]:
    return (s.severity == Severity.CRITICAL, s.minutes)


def _worst_first(s: SegmentReading) -> tuple[bool, float, Segment]:
    return (s.severity != Severity.CRITICAL, -s.excess, s.segment)


def named(
    segments: Sequence[SegmentReading], failed: int, final: int, baseline: float | None
) -> SegmentReading | None:
    """The segment an incident is named after: the worst, when it holds at least NAMED of
    the account's excess failures (else the trouble is wider than it, and the incident is
    the account's: two senders failing alike are not one sender's outage). `failed`,
    `final`, `baseline`: the account's, in the window."""
    if not segments:
        return None
    worst = segments[0]
    account_excess = failed - final * (baseline or 0.0)
    return worst if worst.excess >= NAMED * account_excess else None
