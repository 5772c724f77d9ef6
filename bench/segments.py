"""Segments: the false-alarm budget of detection per segment, measured on simulated months.

Plays steady months of one account's traffic, minute by minute, through the bot's own
pure detection (`spikes.severity` account-wide, `segments.judge` per segment, and
`alerting.evaluate` for incidents), evaluated every minute over a 15-minute window
against each segment's 7-day baseline, as the watcher runs it. Reports:

- false incidents a month on steady traffic: the bot's rule (account-wide and per
  segment) against the account-wide rule alone, at three levels of hour-to-hour noise;
- outages injected into segments of several sizes (a share of the account's traffic) and
  depths (20 and 50 points above normal, and every message failing): the share detected
  within two cycles of the start (the injected segment, or the account, firing), and
  within the window (15 cycles), by each rule.

    python bench/segments.py [--months 3] [--per-day 1000000] [--alpha A] [--prior N]

The traffic: PER_DAY messages a day, by day and by night (a sine, 0.4 to 1.6 times the
mean), to 25 countries, from 50 senders and over 30 carriers, each kind's shares falling
as 1/rank (Zipf). Each segment has its own normal rate of 30003, drawn between 0.3 % and
6 %, moved every hour by lognormal noise of the given sigma (0: only sampling noise). Each
kind is drawn as its own stream (a message's country, sender and carrier are not tied
together); the account's traffic is the countries'. Every failure counts as a distinct
recipient, which makes the recipient floor easier to pass than real retries do.
"""

import argparse
import math
import random
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import report

from bot.domain import alerting, segments, spikes
from bot.domain.segments import Budget, History, Segment, SegmentCounts, SegmentKind
from bot.domain.spikes import Baseline, Reading
from bot.domain.thresholds import Severity, Thresholds
from bot.tuning import DEFAULT_TUNING

CODE = 30003
WINDOW = 15  # minutes, ALERT_WINDOW_MINUTES
SETTLE = 30  # minutes the baseline stops short of the window by, SETTLE_MINUTES
WEEK = 168  # hours of baseline
MONTH = 30 * 1440  # minutes
THRESHOLDS = Thresholds(  # the settings' defaults
    window=timedelta(minutes=WINDOW),
    min_messages=20,
    min_recipients=5,
    warning_rate=0.05,
    critical_rate=0.10,
    baseline_factor=3.0,
    resolve_after=3,
)
KINDS = ((SegmentKind.COUNTRY, 25), (SegmentKind.SENDER, 50), (SegmentKind.CARRIER, 30))
NOISES = (0.0, 0.3, 0.5)
SIZES = (0.005, 0.02, 0.10)  # a segment's share of the account's traffic
DEPTHS = ("+20 points", "+50 points", "all fail")
TRIAL_EVERY = 120  # minutes between the starts of two injected outages
SHORT = DEFAULT_TUNING.segment_budget.short_minutes
HORIZON = WINDOW  # cycles an outage trial is followed for
START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Stream:
    """One segment's traffic: its share, its normal rate, and its counts so far."""

    segment: Segment
    share: float
    rate: float
    noisy_rate: float = 0.0  # this hour's
    window: deque[tuple[int, int]] = field(default_factory=deque)  # (final, failed) a minute
    final: int = 0  # over the window
    failed: int = 0
    short_final: int = 0  # over its last minutes
    short_failed: int = 0
    hour_final: int = 0
    hour_failed: int = 0
    hours: deque[tuple[int, int]] = field(default_factory=deque)  # whole hours, oldest first
    history: History = field(default_factory=History)  # over the baseline's hours


@dataclass
class Trial:
    stream: Stream
    size: float
    depth: str
    rate: float  # the outage's rate
    start: int
    extra: int = 0  # failures the outage added to the window so far
    added: deque[int] = field(default_factory=deque)  # by minute, newest last
    ours: int | None = None  # the first cycle each rule fired, counted from 1
    account: int | None = None


def poisson(lam: float, rng: random.Random) -> int:
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    u, k, term = rng.random(), 0, math.exp(-lam)
    cdf = term
    while u > cdf:
        k += 1
        term *= lam / k
        cdf += term
    return k


def binomial(n: int, p: float, rng: random.Random) -> int:
    if n <= 0 or p <= 0:
        return 0
    if p >= 1:
        return n
    if n > 60:
        return (
            poisson(n * p, rng)
            if p < 0.05
            else min(n, max(0, round(rng.gauss(n * p, math.sqrt(n * p * (1 - p))))))
        )
    return sum(rng.random() < p for _ in range(n))


def world(seed: int) -> list[Stream]:
    rng = random.Random(seed)
    streams = []
    for kind, count in KINDS:
        weights = [1 / rank for rank in range(1, count + 1)]
        total = sum(weights)
        for rank, weight in enumerate(weights):
            rate = math.exp(rng.uniform(math.log(0.003), math.log(0.06)))
            streams.append(Stream(Segment(kind, f"{kind.value}-{rank + 1}"), weight / total, rate))
    return streams


def volume(minute: int, per_day: int) -> float:
    """Messages expected in one minute of the day: a sine from 0.4 to 1.6 of the mean."""
    return per_day / 1440 * (1 + 0.6 * math.sin(2 * math.pi * (minute % 1440) / 1440 - math.pi / 2))


def month(args: tuple[int, int, float, Budget, bool]) -> dict[str, Any]:
    """One simulated month after a week of warm-up: false incidents of each rule, and the
    outage trials (only with `trials`, on a month of its own, so they never touch the
    false-alarm count)."""
    seed, per_day, noise, budget, with_trials = args
    rng = random.Random(seed)
    streams = world(seed)
    countries = [s for s in streams if s.segment.kind == SegmentKind.COUNTRY]
    targets = [
        (
            size,
            min((s for s in streams if s.segment.kind == kind), key=lambda s: abs(s.share - size)),
        )
        for size in SIZES
        for kind in (SegmentKind.COUNTRY, SegmentKind.SENDER)
    ]
    template = Reading(CODE, None, 0, 0, 0, None, START, START, (), (), (), (), ())
    key = alerting.incident_key("AC", CODE)
    state: dict[str, alerting.Incident | None] = {"ours": None, "account": None}
    opened = {"ours": 0, "account": 0}
    firing_minutes = {"ours": 0, "account": 0}
    trials: list[Trial] = []
    active: Trial | None = None
    plan: Iterator[tuple[float, Stream, str]] = iter(
        [(size, stream, depth) for depth in DEPTHS for size, stream in targets] * 10_000
    )
    next_trial = WEEK * 60 + rng.randrange(TRIAL_EVERY)
    for minute in range(WEEK * 60 + MONTH):
        if minute % 60 == 0:
            for s in streams:
                s.noisy_rate = min(0.95, s.rate * math.exp(rng.gauss(0, noise) - noise**2 / 2))
        expected = volume(minute, per_day)
        for s in streams:
            failed = poisson(expected * s.share * s.noisy_rate, rng)
            final = failed + poisson(expected * s.share * (1 - s.noisy_rate), rng)
            s.window.append((final, failed))
            s.final += final
            s.failed += failed
            s.short_final += final
            s.short_failed += failed
            if len(s.window) > WINDOW:
                old_final, old_failed = s.window.popleft()
                s.final -= old_final
                s.failed -= old_failed
            if len(s.window) > SHORT:
                old_final, old_failed = s.window[-SHORT - 1]
                s.short_final -= old_final
                s.short_failed -= old_failed
            s.hour_final += final
            s.hour_failed += failed
        if minute % 60 == 59:
            for s in streams:
                s.hours.append((s.hour_final, s.hour_failed))
                s.hour_final = s.hour_failed = 0
        if (minute + 1 - WINDOW - SETTLE) % 60 == 0:
            # The baseline's last whole hour ends before the window and the settle span.
            whole = (minute + 1 - WINDOW - SETTLE) // 60
            for s in streams:
                s.history = segments.history(list(s.hours)[max(0, whole - WEEK) : whole])
        if minute < WEEK * 60:
            continue
        if with_trials and active is None and minute >= next_trial:
            size, stream, depth = next(plan)
            outage = {"+20 points": stream.rate + 0.2, "+50 points": stream.rate + 0.5}.get(
                depth, 1.0
            )
            active = Trial(stream, size, depth, min(1.0, outage), minute)
        if active is not None:
            final, failed = active.stream.window[-1]
            lift = (active.rate - active.stream.noisy_rate) / (1 - active.stream.noisy_rate)
            active.added.append(binomial(final - failed, max(0.0, lift), rng))
            active.extra += active.added[-1]
        now = START + timedelta(minutes=minute + 1)
        for rule in ("ours", "account"):
            fires, fired_trial = evaluate(streams, countries, rule, budget, active)
            if active is not None and fired_trial:
                cycle = minute - active.start + 1
                if getattr(active, rule) is None:
                    setattr(active, rule, cycle)
            if not with_trials:
                firing_minutes[rule] += fires is not None
                reading = replace(template, severity=fires, until=now)
                step = alerting.evaluate(state[rule], reading, key, THRESHOLDS, now)
                opened[rule] += step.event == alerting.Event.OPENED
                state[rule] = (
                    None if step.incident is None or step.incident.resolved_at else step.incident
                )
        if active is not None and minute - active.start + 1 >= HORIZON:
            trials.append(active)
            active = None
            next_trial = minute + TRIAL_EVERY - HORIZON + rng.randrange(TRIAL_EVERY // 2)
    return {
        "opened": opened,
        "firing_minutes": firing_minutes,
        "trials": [
            (t.size, t.stream.segment.kind.value, t.depth, t.ours, t.account) for t in trials
        ],
    }


def evaluate(
    streams: list[Stream], countries: list[Stream], rule: str, budget: Budget, trial: Trial | None
) -> tuple[Severity | None, bool]:
    """The rule's severity this minute, and whether it fired for the trial's outage (its
    segment, or the account)."""
    extra = trial.extra if trial is not None else 0
    final = sum(s.final for s in countries)
    failed = sum(s.failed for s in countries) + extra
    base = Baseline(
        sum(s.history.final for s in countries), sum(s.history.failed for s in countries)
    )
    account = spikes.severity(
        CODE, failed, final, failed, failed / final if final else 0.0, base, THRESHOLDS
    )
    if rule == "account":
        return account, account is not None
    counts, short = [], []
    short_extra = sum(list(trial.added)[-budget.short_minutes :]) if trial is not None else 0
    for s in streams:
        mine = trial is not None and s is trial.stream
        added = extra if mine else 0
        counts.append(
            SegmentCounts(s.segment, s.final, s.failed + added, s.failed + added, s.history)
        )
        added = short_extra if mine else 0
        short.append(
            SegmentCounts(
                s.segment, s.short_final, s.short_failed + added, s.short_failed + added, s.history
            )
        )
    windows = (
        segments.Window(WINDOW, final, tuple(counts)),
        segments.Window(budget.short_minutes, sum(s.short_final for s in countries), tuple(short)),
    )
    fired = segments.judge(windows, base.rate, THRESHOLDS, budget)
    worst = max(
        [f.severity for f in fired] + ([account] if account else []), default=None, key=_rank
    )
    hit = account is not None or any(
        trial is not None and f.segment == trial.stream.segment for f in fired
    )
    return worst, hit


def _rank(severity: Severity | None) -> int:
    return {None: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}[severity]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=3, help="steady months a noise level")
    parser.add_argument("--per-day", type=int, default=1_000_000)
    parser.add_argument("--alpha", type=float, default=DEFAULT_TUNING.segment_budget.alpha)
    parser.add_argument("--prior", type=int, default=DEFAULT_TUNING.segment_budget.prior_messages)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    budget = Budget(args.alpha, args.prior, SHORT)
    jobs = [
        (1000 * i + n, args.per_day, noise, budget, False)
        for i, noise in enumerate(NOISES)
        for n in range(args.months)
    ]
    jobs += [(9000 + n, args.per_day, 0.3, budget, True) for n in range(args.months)]
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(month, jobs))
    rows: list[tuple[str, str]] = []
    figures: dict[str, Any] = {
        "per_day": args.per_day,
        "months": args.months,
        "alpha": args.alpha,
        "prior_messages": args.prior,
        "false_incidents_per_month": {},
        "detected": {},
    }
    rows.append(("steady months, false incidents a month", "bot's rule / account-wide only"))
    for i, noise in enumerate(NOISES):
        done = results[i * args.months : (i + 1) * args.months]
        ours = sum(r["opened"]["ours"] for r in done) / args.months
        account = sum(r["opened"]["account"] for r in done) / args.months
        minutes = sum(r["firing_minutes"]["ours"] for r in done) / args.months
        figures["false_incidents_per_month"][str(noise)] = {
            "ours": ours,
            "account": account,
            "ours_firing_minutes": minutes,
        }
        rows.append((f"  hourly noise sigma {noise}", f"{ours:.2f} / {account:.2f}"))
    trials = [t for r in results[len(NOISES) * args.months :] for t in r["trials"]]
    rows.append(("outages detected within 2 cycles (15)", "bot's rule / account-wide only"))
    for size in SIZES:
        for depth in DEPTHS:
            for kind in ("country", "sender"):
                mine = [t for t in trials if t[0] == size and t[1] == kind and t[2] == depth]
                if not mine:
                    continue
                share = {
                    rule: (
                        sum(t[3 + j] is not None and t[3 + j] <= 2 for t in mine) / len(mine),
                        sum(t[3 + j] is not None for t in mine) / len(mine),
                    )
                    for j, rule in enumerate(("ours", "account"))
                }
                label = f"  {kind} of {size:.1%}, {depth} (n={len(mine)})"
                rows.append(
                    (
                        label,
                        f"{share['ours'][0]:.0%} ({share['ours'][1]:.0%}) / "
                        f"{share['account'][0]:.0%} ({share['account'][1]:.0%})",
                    )
                )
                figures["detected"][f"{kind} {size} {depth}"] = {
                    "trials": len(mine),
                    "ours_within_2": share["ours"][0],
                    "ours_within_15": share["ours"][1],
                    "account_within_2": share["account"][0],
                    "account_within_15": share["account"][1],
                }
    # bench/segments.json at the default volume, bench/segments-<per day>.json at others.
    name = "segments" if args.per_day == 1_000_000 else f"segments-{args.per_day}"
    report(name, rows, figures)


if __name__ == "__main__":
    main()
