"""Detect: what the store's counts say about each watched code, as readings.

Pure: every input is a value (`Evidence`, gathered by `reads.measure`), `now` included.
Suspension and rejected credentials are readings like any other, each with its code.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.domain import account_readings, spikes
from bot.domain.failures import Failures
from bot.domain.spikes import Baseline, Reading, ReadingKind, Tally
from bot.domain.thresholds import Thresholds

BASELINE_SPAN = timedelta(days=7)


@dataclass(frozen=True)
class Evidence:
    counted: Tally  # final outbound messages of the last hour, by code
    failures: dict[int, Failures]  # each watched code's, over the window
    fresh_suspensions: Failures | None  # 30002's since the account was last seen inactive
    carriers: dict[str, str]  # carrier by number, from the lookup cache
    baselines: dict[int, Baseline]  # each code over the whole hours of the last week
    watched_since: datetime | None  # the start of what the watcher has read, if it has


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
    account_status: str,
    until: datetime,
    now: datetime,
) -> tuple[Reading, ...]:
    """A reading per watched code; `until` is where the baseline ends."""
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
        found.append(reading)
    return tuple(found)


def thresholds_for(reading: Reading, thresholds: Thresholds) -> Thresholds:
    """One accepted call proves the credentials; one read of an active account, with no
    30002 since, proves a suspension is over: those resolve at the first quiet reading."""
    if reading.kind == ReadingKind.CREDENTIALS or (
        reading.kind == ReadingKind.SUSPENSION and reading.account_status == "active"
    ):
        return replace(thresholds, resolve_after=1)
    return thresholds
