"""Detect: what the store's counts say about each watched code, as readings.

Pure: every input is a value (`Evidence`, gathered by `reads.measure`), `now` included.
Suspension and rejected credentials are readings like any other, each with its code.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot.domain import account_readings, segments, spikes, traffic
from bot.domain.failures import Failures
from bot.domain.segments import Budget, History, Segment
from bot.domain.spikes import Baseline, Reading, ReadingKind, Tally
from bot.domain.thresholds import Severity, Thresholds
from bot.domain.traffic import Traffic

BASELINE_SPAN = timedelta(days=7)


@dataclass(frozen=True)
class Evidence:
    counted: Tally  # final outbound messages of the last hour, by code
    failures: dict[int, Failures]  # each watched code's, over the window
    fresh_suspensions: Failures | None  # 30002's since the account was last seen inactive
    carriers: dict[str, str]  # carrier by number, from the lookup cache
    baselines: dict[int, Baseline]  # each code over the whole hours of the last week
    watched_since: datetime | None  # the start of what the watcher has read, if it has
    # By segment: each span judged (its minutes and traffic), and each rate code's history.
    spans: tuple[tuple[int, Traffic], ...] = ()
    histories: dict[int, dict[Segment, History]] = field(default_factory=dict)
    muted: dict[int, frozenset[Segment]] = field(default_factory=dict)  # by code


def watched_codes(alert_codes: tuple[int, ...]) -> tuple[int, ...]:
    """30002 always (a suspension stops everything), then ALERT_CODES, once each."""
    return tuple(dict.fromkeys((spikes.SUSPENDED_CODE, *alert_codes)))


def baseline_until(thresholds: Thresholds, settle: timedelta, now: datetime) -> datetime:
    """The baseline ends before the window and the settle span, whose messages may change."""
    return now - thresholds.window - settle


def readings(
    evidence: Evidence,
    alert_codes: tuple[int, ...],
    thresholds: Thresholds,
    budget: Budget,
    account_status: str,
    until: datetime,
    now: datetime,
) -> tuple[Reading, ...]:
    """A reading per watched code, judged account-wide and per segment; `until` is where
    the baseline ends."""
    hours = None
    held = evidence.watched_since
    if held is not None and held > now - BASELINE_SPAN:
        # The watcher has watched for less than the baseline's span: say how long.
        hours = max(0.0, (until - held).total_seconds() / 3600)
    found = []
    for code in watched_codes(alert_codes):
        kept = evidence.baselines[code]
        # The least history behind it: what the watcher has read, or what the rollup has
        # counted of it so far (a week's first count goes over several cycles).
        rests_on = [h for h in (hours, kept.hours) if h is not None]
        baseline = replace(kept, hours=min(rests_on) if rests_on else None)
        reading = spikes.measure_tally(
            code,
            evidence.counted,
            evidence.failures[code],
            baseline,
            evidence.carriers,
            thresholds,
            now,
        )
        if code == spikes.SUSPENDED_CODE:
            reading = account_readings.suspension_reading(
                reading,
                account_status,
                evidence.fresh_suspensions,
                watched=code in alert_codes,
            )
        else:
            reading = _by_segment(reading, evidence, thresholds, budget)
        found.append(reading)
    return tuple(found)


def _by_segment(
    reading: Reading, evidence: Evidence, thresholds: Thresholds, budget: Budget
) -> Reading:
    """The reading with the segments that fire on its code, and the worse severity of the
    two rules. A muted segment's messages leave every segment and the account's rule
    too, so the outage someone muted does not come back under another name."""
    code = reading.code
    muted = evidence.muted.get(code, frozenset())
    spans = tuple((minutes, found.without(muted)) for minutes, found in evidence.spans)
    windows = traffic.windows(code, spans, evidence.histories.get(code, {}))
    firing = segments.judge(windows, reading.baseline, thresholds, budget)
    account = reading.severity
    if muted and account is not None and spans:
        account = _without(reading, spans[0][1], evidence, thresholds)
    severities = [s.severity for s in firing] + ([account] if account is not None else [])
    worst = max(severities, key=lambda s: s == Severity.CRITICAL, default=None)
    return replace(reading, severity=worst, segments=firing, account_severity=account)


def _without(
    reading: Reading, window: Traffic, evidence: Evidence, thresholds: Thresholds
) -> Severity | None:
    """The account's rule on the window without the muted segments' messages."""
    code = reading.code
    final, failed = window.messages, window.account_failed.get(code, 0)
    recipients = window.account_recipients.get(code, 0)
    rate = failed / final if final else 0.0
    baseline = evidence.baselines[code]
    return spikes.severity(code, failed, final, recipients, rate, baseline, thresholds)


def thresholds_for(reading: Reading, thresholds: Thresholds) -> Thresholds:
    """One accepted call proves the credentials; one read of an active account, with no
    30002 since, proves a suspension is over: those resolve at the first quiet reading."""
    if reading.kind == ReadingKind.CREDENTIALS or (
        reading.kind == ReadingKind.SUSPENSION and reading.account_status == "active"
    ):
        return replace(thresholds, resolve_after=1)
    return thresholds
