"""Sweeps: when the watcher reads the Messages list. Every cycle while no stream
delivers; while Event Streams does (an event received within EVENTS_SWEEP_MINUTES), only
every EVENTS_SWEEP_MINUTES, to catch what the stream missed, which health counts. A
history still being read back goes on every cycle either way.
"""

import logging
from datetime import datetime, timedelta

from bot.store import Store
from bot.watcher.config import WatcherConfig
from bot.watcher.health import Health
from bot.watcher.ingest import Ingest

log = logging.getLogger(__name__)


class Sweep:
    def __init__(self, config: WatcherConfig, store: Store, ingest: Ingest, health: Health) -> None:
        self.config = config
        self.store = store
        self.ingest = ingest
        self.health = health
        self.swept: datetime | None = None  # when this process last read the list's head

    async def read(self, now: datetime) -> int:
        """The list, if it is due; how many messages were read."""
        health, sweep = self.health, self.config.events_sweep
        last = await self.store.messages.last_report()
        health.events_received = last.timestamp() if last else None
        health.events_live = last is not None and now - last <= sweep
        # Half a beat early: cycles come on the beat, so "due" must not wait one more.
        due = sweep - min(timedelta(seconds=self.config.poll_interval_seconds), sweep) / 2
        if health.events_live and self.swept is not None and now - self.swept < due:
            return await self.ingest.read_back_only(now)
        read = await self.ingest.run(now, sweep.total_seconds() if health.events_live else None)
        # This process's first read catches up on whatever came before it: not a sweep.
        swept = health.events_live and self.swept is not None
        self.swept = now
        health.swept_at = now.timestamp()
        health.sweep_found = self.ingest.found if swept else None
        if swept:
            health.sweep_found_total += self.ingest.found
            if self.ingest.found:
                log.info(
                    "the sweep found %d final statuses the stream had not sent", self.ingest.found
                )
        return read
