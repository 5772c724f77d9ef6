"""Reads: what the watcher's pure stages need from the store, gathered."""

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from bot.answers import knowledge
from bot.answers.curated import Entry
from bot.answers.knowledge import Explanation
from bot.domain import account_readings, alerting, spikes
from bot.domain.failures import Failures
from bot.domain.segments import History, Segment, SegmentKind
from bot.domain.spikes import Baseline, Reading, ReadingKind
from bot.domain.subaccounts import Subaccount
from bot.domain.traffic import Traffic
from bot.store import SegmentMute, Store
from bot.store.counting import whole_hours
from bot.watcher import detect
from bot.watcher.config import WatcherConfig

INACTIVE_AT = "account_inactive_at"  # the last cycle that saw the account not active


class SegmentHistories:
    """Each rate code's segment histories, kept between evaluations while the hours they
    span stay the same: they move once an hour, and reading a week of every segment's
    hours costs tens of milliseconds at a million messages a day (bench/detection.py). A
    late receipt for an hour already counted shows from the next hour on."""

    def __init__(self) -> None:
        self._held: dict[int, tuple[object, dict[Segment, History]]] = {}

    async def get(
        self, store: Store, code: int, since: datetime, until: datetime, baseline: Baseline
    ) -> dict[Segment, History]:
        hours = whole_hours(since, until)
        # The hours counted so far are part of the key: a week's first count goes over
        # several cycles, and each adds hours to every segment's history.
        key = (hours[0], hours[-1], baseline.hours) if hours else None
        held = self._held.get(code)
        if held is not None and held[0] == key:
            return held[1]
        found = await store.messages.segment_histories(code, since, until)
        self._held[code] = (key, found)
        return found


async def measure(
    store: Store,
    config: WatcherConfig,
    account_status: str,
    now: datetime,
    histories: SegmentHistories,
    watched: tuple[Subaccount, ...] = (),
) -> tuple[Reading, ...]:
    """Each watched code, now: counts for the many messages and for those that failed
    (whole rows for none), and the baseline from the hourly rollup; with subaccounts
    `watched`, each one's readings too."""
    thresholds = config.thresholds
    codes = detect.watched_codes(config.alert_codes)
    rates = [code for code in codes if code != spikes.SUSPENDED_CODE]  # judged per segment
    # With subaccounts, 30002 by segment too: which subaccounts had one this window.
    by_segment = [*rates, *([spikes.SUSPENDED_CODE] if watched else [])]
    spans = _spans(config) if by_segment else []
    until = detect.baseline_until(thresholds, config.settle, now)
    counted = await store.messages.tally(codes, spikes.tally_edges(thresholds.window, now))
    inactive = await store.watcher.get(INACTIVE_AT)
    inactive_at = datetime.fromisoformat(inactive) if inactive else None
    held = await store.watcher.coverage()
    since = now - thresholds.window
    fresh = account_readings.fresh_since(since, inactive_at)
    failures = {code: await store.messages.failures(code, since, now) for code in codes}
    fresh_suspensions = (
        None if fresh is None else await store.messages.failures(spikes.SUSPENDED_CODE, fresh, now)
    )
    if watched:
        # The account's own 30002s: each subaccount's are its own incident.
        parent = Segment(SegmentKind.SUBACCOUNT, config.account_sid)
        fresh_suspensions = await store.messages.failures(
            spikes.SUSPENDED_CODE, fresh or since, now, parent
        )
    week = now - detect.BASELINE_SPAN
    # The hours are shared by every code: the first counts for the cycle's budget, the
    # others count none, so all rest on the same hours.
    baselines = {
        code: await store.messages.baseline(
            code, week, until, config.tuning.baseline_seconds_per_cycle if i == 0 else 0
        )
        for i, code in enumerate(codes)
    }
    windows = await store.messages.segment_windows(by_segment, [now - s for _, s in spans], now)
    judged = tuple(zip([minutes for minutes, _ in spans], windows, strict=True))
    evidence = detect.Evidence(
        counted=spikes.tally(counted, thresholds.window, now),
        failures=failures,
        fresh_suspensions=fresh_suspensions,
        carriers=await store.lookups.carriers(),
        baselines=baselines,
        watched_since=held.since if held is not None else None,
        spans=judged,
        histories={
            code: await histories.get(store, code, week, until, baselines[code]) for code in rates
        },
        muted=_muted(await store.mutes.active(now)),
        subaccounts=watched,
        subaccount_suspensions=await _suspensions(store, watched, judged, since, now),
        open_subaccounts=await _open_subaccounts(store, config.account_sid),
    )
    budget = config.tuning.segment_budget
    found = detect.readings(
        evidence, config.alert_codes, thresholds, budget, account_status, until, now
    )
    own_of = config.account_sid if watched else None
    return tuple([await _segment_samples(store, reading, now, own_of) for reading in found])


def _muted(mutes: list[SegmentMute]) -> dict[int, frozenset[Segment]]:
    found: dict[int, set[Segment]] = {}
    for mute in mutes:
        found.setdefault(mute.code, set()).add(mute.segment)
    return {code: frozenset(segments) for code, segments in found.items()}


def _spans(config: WatcherConfig) -> list[tuple[int, timedelta]]:
    """The windows each segment is judged over: the alert window, and its last minutes."""
    window = config.thresholds.window
    short = timedelta(minutes=config.tuning.segment_budget.short_minutes)
    minutes = int(window.total_seconds() // 60)
    return [(minutes, window)] + ([(short.seconds // 60, short)] if short < window else [])


async def _suspensions(
    store: Store,
    watched: tuple[Subaccount, ...],
    spans: tuple[tuple[int, Traffic], ...],
    since: datetime,
    now: datetime,
) -> dict[str, Failures]:
    """The 30002s of the window (of an active one, those since it was last seen
    suspended) of each watched subaccount that had one in the window (`spans`, the
    longest first): one read for each of those, none for the others."""
    window = spans[0][1] if spans else None
    found = {}
    for sub in watched:
        place = Segment(SegmentKind.SUBACCOUNT, sub.sid)
        if window is None or not window.failed.get((place, spikes.SUSPENDED_CODE)):
            continue
        fresh = account_readings.fresh_since(since, sub.inactive_at)
        found[sub.sid] = await store.messages.failures(
            spikes.SUSPENDED_CODE,
            since if sub.status != "active" or fresh is None else fresh,
            now,
            place,
        )
    return found


async def _open_subaccounts(store: Store, parent: str) -> dict[int, frozenset[str]]:
    """By code, the subaccounts with an incident open (keys name their account)."""
    found: dict[int, set[str]] = {}
    for incident in await store.incidents.open_all():
        sid = alerting.key_account(incident.key)
        if sid != parent:
            found.setdefault(incident.code, set()).add(sid)
    return {code: frozenset(sids) for code, sids in found.items()}


async def _segment_samples(
    store: Store, reading: Reading, now: datetime, parent: str | None = None
) -> Reading:
    """An incident named after a segment shows that segment's failures as its samples;
    a subaccount's rate incident, that subaccount's; with subaccounts watched (`parent`),
    the account's own, the subaccounts' being theirs."""
    named = reading.named
    mine = reading.subaccount or (parent if named is None else None)
    if mine and reading.kind == ReadingKind.RATE and reading.severity:
        place = Segment(SegmentKind.SUBACCOUNT, mine)
        own = await store.messages.failures(reading.code, reading.since, now, place)
        if not reading.subaccount:  # its senders and countries: what `left` counted
            return replace(reading, samples=own.samples)
        return replace(reading, samples=own.samples, senders=own.senders, countries=own.countries())
    if named is None:
        return reading
    since = now - timedelta(minutes=named.minutes)
    found = await store.messages.failures(reading.code, since, now, named.segment)
    return replace(reading, samples=found.samples)


async def explanation(store: Store, curated: Mapping[int, Entry], code: int) -> Explanation:
    """What an alert says about `code`: the curated entry, else the imported one."""
    imported = None if code in curated else await store.dictionary.entry(code)
    return knowledge.explain(code, curated, imported)
