"""Detect: what the store's counts say about each watched code, as readings.

Pure: every input is a value (`Evidence`, gathered by `reads.measure`), `now` included.
Suspension and rejected credentials are readings like any other, each with its code.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot.domain import account_readings, segments, spikes, subaccounts, traffic
from bot.domain.failures import Failures
from bot.domain.segments import Budget, History, Segment, SegmentKind, SegmentReading
from bot.domain.spikes import Baseline, Reading, ReadingKind, Tally
from bot.domain.subaccounts import Subaccount
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
    # WATCH_SUBACCOUNTS: those watched (each account is then a segment too, and each
    # subaccount's trouble its own incident); each one's 30002s since it was last seen
    # suspended; and, by code, the subaccounts with an incident open.
    subaccounts: tuple[Subaccount, ...] = ()
    subaccount_suspensions: dict[str, Failures] = field(default_factory=dict)
    open_subaccounts: dict[int, frozenset[str]] = field(default_factory=dict)


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
            found += [reading, *_suspensions(reading, evidence, code in alert_codes)]
        else:
            reading, own = _by_segment(reading, evidence, thresholds, budget)
            found += [reading, *_subaccount_rates(reading, own, evidence)]
    return tuple(found)


def _suspensions(reading: Reading, evidence: Evidence, watched: bool) -> list[Reading]:
    """Each watched subaccount's 30002 reading, while it fires or its incident is open;
    and a quiet one for an open incident of a subaccount no longer watched (closed, or
    left out of WATCH_SUBACCOUNTS), which resolves it. None while the account itself is
    not active: Twilio suspends its subaccounts with it, and its incident says so."""
    code = reading.code
    open_now = evidence.open_subaccounts.get(code, frozenset())
    if reading.account_status != "active":
        return []  # the account's suspension is every subaccount's: one incident says it
    found = []
    for sub in evidence.subaccounts:
        fresh = evidence.subaccount_suspensions.get(sub.sid, Failures())
        own = subaccounts.suspension(reading, sub, fresh, watched)
        if own.severity is not None or sub.sid in open_now:
            found.append(own)
    return found + _gone(reading, evidence, open_now)


def _subaccount_rates(
    reading: Reading, firing: list[SegmentReading], evidence: Evidence
) -> list[Reading]:
    """A reading for each subaccount whose own rate fires on the code, and a quiet one for
    each with an incident open that does not."""
    by_sid = {sub.sid: sub for sub in evidence.subaccounts}
    found = [subaccounts.rate(reading, f, by_sid[f.segment.value]) for f in firing]
    open_now = evidence.open_subaccounts.get(reading.code, frozenset())
    window = evidence.spans[0][1] if evidence.spans else None
    for sid in sorted(open_now - {f.segment.value for f in firing}):
        if sid not in by_sid:
            continue
        place = Segment(SegmentKind.SUBACCOUNT, sid)
        failed = window.failed.get((place, reading.code), 0) if window else 0
        final = window.final.get(place, 0) if window else 0
        found.append(subaccounts.quiet(reading, by_sid[sid], failed, final))
    return found + _gone(reading, evidence, open_now)


def _gone(reading: Reading, evidence: Evidence, open_now: frozenset[str]) -> list[Reading]:
    """Quiet readings for the open incidents of subaccounts no longer watched."""
    watched = {sub.sid for sub in evidence.subaccounts}
    return [
        subaccounts.quiet(reading, Subaccount(sid, "", "no longer watched"), 0, 0)
        for sid in sorted(open_now - watched)
    ]


def _by_segment(
    reading: Reading, evidence: Evidence, thresholds: Thresholds, budget: Budget
) -> tuple[Reading, list[SegmentReading]]:
    """The reading with the segments that fire on its code, and the worse severity of the
    two rules; and the watched subaccounts whose own segment fires, which are their own
    incidents. A muted segment's messages leave every segment and the account's rule
    too, so the outage someone muted does not come back under another name; so do those
    of a subaccount that fires or whose incident is open, so it is not told twice, and
    the account's figures are then what is left. While its incident is open, a
    subaccount also fires on the account's rule applied to its own figures, so it does
    not close while it still fails that badly."""
    code = reading.code
    muted = evidence.muted.get(code, frozenset())
    watched = {sub.sid for sub in evidence.subaccounts}
    theirs = frozenset(Segment(SegmentKind.SUBACCOUNT, sid) for sid in watched)
    firing, spans = _judged(reading, evidence, thresholds, budget, muted)
    open_now = evidence.open_subaccounts.get(code, frozenset()) & watched
    own: dict[str, SegmentReading] = {}
    if open_now and spans:
        histories = evidence.histories.get(code, {})
        own = subaccounts.ruled(code, open_now, spans[0], histories, thresholds)
    apart: set[Segment] = set()
    while True:
        # Leaving a subaccount out changes the family the others are judged in: until
        # no other one fires. Each turn leaves one more out, so it ends.
        for f in firing:
            held = own.get(f.segment.value)
            if f.segment in theirs and (held is None or _worse(f, held)):
                own[f.segment.value] = f
        wanted = {Segment(SegmentKind.SUBACCOUNT, sid) for sid in {*own, *open_now}}
        if wanted <= apart:
            break
        apart |= wanted
        firing, spans = _judged(reading, evidence, thresholds, budget, muted | apart)
    if apart and spans:
        reading = subaccounts.left(reading, spans[0][1])
    account = reading.severity
    if (muted or apart) and account is not None and spans:
        account = _without(reading, spans[0][1], evidence.baselines[code], thresholds)
    severities = [s.severity for s in firing] + ([account] if account is not None else [])
    worst = max(severities, key=lambda s: s == Severity.CRITICAL, default=None)
    found = replace(reading, severity=worst, segments=firing, account_severity=account)
    return found, sorted(own.values(), key=lambda f: f.segment)


def _worse(a: SegmentReading, b: SegmentReading) -> bool:
    return a.severity == Severity.CRITICAL and b.severity != Severity.CRITICAL


def _judged(
    reading: Reading,
    evidence: Evidence,
    thresholds: Thresholds,
    budget: Budget,
    left_out: frozenset[Segment] | set[Segment],
) -> tuple[tuple[SegmentReading, ...], tuple[tuple[int, Traffic], ...]]:
    """The segments that fire on the reading's code, with `left_out`'s messages taken
    out of every window; and those windows. A watched subaccount is judged apart even
    with nearly all the traffic: its trouble is its own incident."""
    code = reading.code
    spans = tuple((minutes, found.without(left_out)) for minutes, found in evidence.spans)
    histories = evidence.histories.get(code, {})
    windows = traffic.windows(code, spans, histories, bool(evidence.subaccounts))
    theirs = frozenset(Segment(SegmentKind.SUBACCOUNT, sub.sid) for sub in evidence.subaccounts)
    return segments.judge(windows, reading.baseline, thresholds, budget, theirs), spans


def _without(
    reading: Reading, window: Traffic, baseline: Baseline, thresholds: Thresholds
) -> Severity | None:
    """The account's rule on the window without the muted segments' messages (or the
    subaccounts'), against `baseline`."""
    code = reading.code
    final, failed = window.messages, window.account_failed.get(code, 0)
    recipients = window.account_recipients.get(code, 0)
    rate = failed / final if final else 0.0
    return spikes.severity(code, failed, final, recipients, rate, baseline, thresholds)


def thresholds_for(reading: Reading, thresholds: Thresholds) -> Thresholds:
    """One accepted call proves the credentials; one read of an active account, with no
    30002 since, proves a suspension is over, as does a subaccount closed or no longer
    watched: those resolve at the first quiet reading."""
    over = reading.account_status == "active" or (
        reading.subaccount != "" and reading.account_status != "suspended"
    )
    if reading.kind == ReadingKind.CREDENTIALS or (reading.kind == ReadingKind.SUSPENSION and over):
        return replace(thresholds, resolve_after=1)
    return thresholds
