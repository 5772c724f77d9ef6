"""Reads: what the watcher's pure stages need from the store, gathered."""

from collections.abc import Mapping
from datetime import datetime

from bot.answers import knowledge
from bot.answers.curated import Entry
from bot.answers.knowledge import Explanation
from bot.domain import account_readings, spikes
from bot.domain.spikes import Reading
from bot.store import Store
from bot.watcher import detect
from bot.watcher.config import WatcherConfig

INACTIVE_AT = "account_inactive_at"  # the last cycle that saw the account not active


async def measure(
    store: Store, config: WatcherConfig, account_status: str, now: datetime
) -> tuple[Reading, ...]:
    """Each watched code, now: counts for the many messages and for those that failed
    (whole rows for none), and the baseline from the hourly rollup."""
    thresholds = config.thresholds
    codes = detect.watched_codes(config.alert_codes)
    until = detect.baseline_until(thresholds, config.settle, now)
    counted = await store.messages.tally(codes, spikes.tally_edges(thresholds.window, now))
    inactive = await store.watcher.get(INACTIVE_AT)
    inactive_at = datetime.fromisoformat(inactive) if inactive else None
    held = await store.watcher.coverage()
    since = now - thresholds.window
    fresh = account_readings.fresh_since(since, inactive_at)
    evidence = detect.Evidence(
        counted=spikes.tally(counted, thresholds.window, now),
        failures={code: await store.messages.failures(code, since, now) for code in codes},
        fresh_suspensions=(
            None
            if fresh is None
            else await store.messages.failures(spikes.SUSPENDED_CODE, fresh, now)
        ),
        carriers=await store.lookups.carriers(),
        # The hours are shared by every code: the first counts for the cycle's budget,
        # the others count none, so all rest on the same hours.
        baselines={
            code: await store.messages.baseline(
                code,
                now - detect.BASELINE_SPAN,
                until,
                config.tuning.baseline_seconds_per_cycle if i == 0 else 0,
            )
            for i, code in enumerate(codes)
        },
        watched_since=held.since if held is not None else None,
    )
    return detect.readings(evidence, config.alert_codes, thresholds, account_status, until, now)


async def explanation(store: Store, curated: Mapping[int, Entry], code: int) -> Explanation:
    """What an alert says about `code`: the curated entry, else the imported one."""
    imported = None if code in curated else await store.dictionary.entry(code)
    return knowledge.explain(code, curated, imported)
