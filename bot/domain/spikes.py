"""Spikes: how an error code stands across the account's recent messages, and whether that
is an incident.

Pure: readings are built from values (the last hour of outbound messages, the code's
7-day baseline, carriers known from the lookup cache, and `now`); `detect` adds what the
rule per segment (`segments`) finds. The thresholds' defaults
follow seed 001 (above 5 % of sends is systemic, above 10 % is serious), as team policy.
"""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from bot.domain import failures, segments
from bot.domain.failures import Failures, outbound_final
from bot.domain.messages import Message, when
from bot.domain.segments import SegmentReading
from bot.domain.thresholds import Severity, Thresholds

SUSPENDED_CODE = 30002  # Account suspended: every message stops, so one is enough
CREDENTIALS_CODE = 20003  # Twilio refused the bot's own credentials: the watcher is blind
SPARK_BUCKETS = 12
SPARK_SPAN = timedelta(hours=1)
SPARK_CHARS = "▁▂▃▄▅▆▇█"


class ReadingKind(StrEnum):
    """What a reading measures: a code's rate over the window, the account's suspension
    (30002, read from the account's status as much as from messages), or whether Twilio
    takes the bot's own credentials."""

    RATE = "rate"
    SUSPENSION = "suspension"
    CREDENTIALS = "credentials"


@dataclass(frozen=True)
class Baseline:
    """One code over the last 7 days: how many final messages, how many with the code."""

    final: int
    failed: int
    hours: float | None = None  # the history it rests on, when less than the full span

    @property
    def rate(self) -> float | None:
        return self.failed / self.final if self.final else None


@dataclass(frozen=True)
class Reading:
    code: int
    severity: Severity | None  # None when nothing is wrong
    failed: int
    final: int
    recipients: int
    baseline: float | None
    since: datetime
    until: datetime
    senders: tuple[tuple[str, int], ...]  # Messaging Service or number, most failures first
    countries: tuple[tuple[str, int], ...]
    carriers: tuple[tuple[str, int], ...]
    samples: tuple[str, ...]
    spark: tuple[float | None, ...]  # the code's rate per 5 minutes over the last hour
    account_status: str = "active"
    baseline_hours: float | None = None  # history behind the baseline, when under 7 days
    segments: tuple[SegmentReading, ...] = ()  # those firing, worst first
    account_severity: Severity | None = None  # the account's rule alone, beside segments
    # A subaccount's own reading (WATCH_SUBACCOUNTS): its SID and friendly name; its
    # figures are the subaccount's alone. Empty: the account the bot's credentials name.
    subaccount: str = ""
    subaccount_name: str = ""

    @property
    def rate(self) -> float:
        return self.failed / self.final if self.final else 0.0

    @property
    def subaccount_label(self) -> str:
        """As alerts name a subaccount: "Acme Corp (AC…)"; empty for the account itself."""
        if not self.subaccount:
            return ""
        name = self.subaccount_name
        return f"{name} ({self.subaccount})" if name else self.subaccount

    @property
    def named(self) -> SegmentReading | None:
        """The segment the incident is named after, when one holds most of the trouble."""
        return segments.named(self.segments, self.failed, self.final, self.baseline)

    @property
    def headline_rate(self) -> float:
        """The rate the incident is about: its segment's, or the account's."""
        named = self.named
        return named.rate if named is not None else self.rate

    @property
    def kind(self) -> ReadingKind:
        if self.code == SUSPENDED_CODE:
            return ReadingKind.SUSPENSION
        if self.code == CREDENTIALS_CODE:
            return ReadingKind.CREDENTIALS
        return ReadingKind.RATE


@dataclass(frozen=True)
class Tally:
    """The last hour of outbound messages with a final status, counted: in the alert
    window, and per spark bucket; in total and for each error code. What `measure`
    needs of the many messages that did not fail, without holding them."""

    final: int  # in the window
    codes: Mapping[int, int]  # error code -> messages in the window
    spark_final: tuple[int, ...]  # per bucket, oldest first
    spark_codes: Mapping[int, tuple[int, ...]]


class Count(NamedTuple):
    """How many final outbound messages of one moment ended with one error code."""

    moment: datetime
    error_code: int | None
    total: int


def tally_edges(window: timedelta, now: datetime) -> tuple[datetime, ...]:
    """Where `tally` draws a line: the window's start, each spark bucket's, and `now`.
    Counts between consecutive edges tally as the messages they count (the store counts
    so, rather than by each message's moment)."""
    start, step = now - SPARK_SPAN, SPARK_SPAN / SPARK_BUCKETS
    return tuple(sorted({now - window, *(start + i * step for i in range(SPARK_BUCKETS)), now}))


def tally(counts: Iterable[Count], window: timedelta, now: datetime) -> Tally:
    """A Tally from counts of final outbound messages."""
    since, start, step = now - window, now - SPARK_SPAN, SPARK_SPAN / SPARK_BUCKETS
    final, codes = 0, Counter[int]()
    spark_final = [0] * SPARK_BUCKETS
    spark_codes: dict[int, list[int]] = {}
    for moment, code, count in counts:
        if since <= moment <= now:
            final += count
            if code:
                codes[code] += count
        if start <= moment < now:
            i = min(int((moment - start) / step), SPARK_BUCKETS - 1)
            spark_final[i] += count
            if code:
                spark_codes.setdefault(code, [0] * SPARK_BUCKETS)[i] += count
    return Tally(
        final,
        dict(codes),
        tuple(spark_final),
        {code: tuple(buckets) for code, buckets in spark_codes.items()},
    )


def tally_messages(recent: Iterable[Message], window: timedelta, now: datetime) -> Tally:
    return tally((Count(when(m), m.error_code, 1) for m in outbound_final(recent)), window, now)


def measure(
    code: int,
    recent: Sequence[Message],
    baseline: Baseline,
    carriers: Mapping[str, str],
    thresholds: Thresholds,
    now: datetime,
) -> Reading:
    """`code` over the window ending `now`, from `recent` (at least the last hour)."""
    counted = tally_messages(recent, thresholds.window, now)
    failed = failures.of_messages(recent, code, now - thresholds.window, now)
    return measure_tally(code, counted, failed, baseline, carriers, thresholds, now)


def measure_tally(
    code: int,
    counted: Tally,
    failed: Failures,
    baseline: Baseline,
    carriers: Mapping[str, str],
    thresholds: Thresholds,
    now: datetime,
) -> Reading:
    """`code` over the window ending `now`, from the counts and the code's failures in
    that window."""
    hits, final = counted.codes.get(code, 0), counted.final
    recipients = len(failed.recipients)
    rate = hits / final if final else 0.0
    return Reading(
        code=code,
        severity=severity(code, hits, final, recipients, rate, baseline, thresholds),
        failed=hits,
        final=final,
        recipients=recipients,
        baseline=baseline.rate,
        baseline_hours=baseline.hours,
        since=now - thresholds.window,
        until=now,
        senders=failed.senders,
        countries=failed.countries(),
        carriers=failed.carriers(carriers),
        samples=failed.samples,
        spark=_spark(code, counted),
    )


def severity(
    code: int,
    failed: int,
    final: int,
    recipients: int,
    rate: float,
    baseline: Baseline,
    t: Thresholds,
) -> Severity | None:
    """The account-wide rule: fixed floors (messages, recipients, ALERT_WARNING_PERCENT) and
    ALERT_BASELINE_FACTOR times the account's own baseline."""
    if code == SUSPENDED_CODE:
        return Severity.CRITICAL if failed else None
    if final < t.min_messages or recipients < t.min_recipients or rate < t.warning_rate:
        return None
    if baseline.rate is not None and rate < t.baseline_factor * baseline.rate:
        return None  # this account always runs this high: that is its normal
    return Severity.CRITICAL if rate >= t.critical_rate else Severity.WARNING


def spark(code: int, recent: Sequence[Message], now: datetime) -> tuple[float | None, ...]:
    """The code's rate in each 5-minute bucket of the last hour, oldest first; None where
    no message reached a final status."""
    return _spark(code, tally_messages(recent, SPARK_SPAN, now))


def _spark(code: int, counted: Tally) -> tuple[float | None, ...]:
    hits = counted.spark_codes.get(code, (0,) * SPARK_BUCKETS)
    return tuple(h / f if f else None for h, f in zip(hits, counted.spark_final, strict=True))


def history(hours: float) -> str:
    """How much history a baseline rests on, as people say it."""
    if hours < 1:
        return "under 1 h of history"
    if hours < 48:
        return f"{int(hours)} h of history"
    return f"{int(hours // 24)} days of history"


def render_spark(rates: Sequence[float | None]) -> str:
    """Rates as bars scaled to the highest one; a gap where there was no traffic."""
    top = max((r for r in rates if r is not None), default=0.0)
    if top == 0:
        return "".join(" " if r is None else SPARK_CHARS[0] for r in rates)
    last = len(SPARK_CHARS) - 1
    return "".join(" " if r is None else SPARK_CHARS[round(r / top * last)] for r in rates)
