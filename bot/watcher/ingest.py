"""Ingest: a cycle's read of the account's messages from Twilio into the store.

Each cycle walks the Messages list newest first, back to what the last one read (less an
overlap) and over the settle window again, for late statuses. When there is more than a
cycle reads (a busy account's first day, or a long gap), the walk stops after `max_pages`
pages and the cycles after it read on from there, `backfill_pages` a cycle, until they
reach where it was to begin. Meanwhile the coverage says how far back every message is
held, and so how many hours a baseline rests on.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.adapters.twilio import TwilioApi
from bot.domain.messages import Message
from bot.errors import BotError, NotFound, StoreError, TwilioRejected
from bot.store import Coverage, ReadingBack, Store
from bot.watcher.config import WatcherConfig
from bot.watcher.health import Health

log = logging.getLogger(__name__)

WATERMARK = "messages_watermark"  # the newest date_created ingested, ISO 8601
OVERLAP = timedelta(minutes=2)
PARTIAL_SLACK = timedelta(minutes=5)  # history this close to BACKFILL_HOURS counts as whole


@dataclass(frozen=True)
class Stretch:
    """What one walk read: how many messages, the newest and oldest creation times among
    them, the next page's URI if it stopped with older messages left, and whether it read
    all there was back to where it was to begin (see `Walk`); and how many final
    statuses it stored that the store did not hold."""

    read: int
    newest: datetime | None
    oldest: datetime | None
    rest: str | None
    whole: bool
    found: int = 0


class Ingest:
    def __init__(
        self, config: WatcherConfig, store: Store, twilio: TwilioApi, health: Health
    ) -> None:
        self.config = config
        self.store = store
        self.twilio = twilio
        self.health = health
        self.found = 0  # final statuses the last run's new messages brought, not held
        self.every_seconds = config.poll_interval_seconds  # how often runs come, now

    async def run(self, now: datetime, every_seconds: float | None = None) -> int:
        """Read what is new (and the settle window), then, if an earlier walk stopped
        short, a slice more of what is older. Returns the messages read. `every_seconds`:
        how often runs come now (the poll interval, or the sweep's while the stream
        delivers), which the coverage says."""
        config = self.config
        self.found = 0
        self.every_seconds = every_seconds or config.poll_interval_seconds
        mark = await self.store.watcher.get(WATERMARK)
        floor = self._floor(now)
        since = floor if mark is None else datetime.fromisoformat(mark) - OVERLAP
        since = max(floor, min(since, now - config.settle))
        head = await self._walk(since, None, config.tuning.max_pages)
        self.found = head.found  # what the head walk found (not the history read back)
        # What `why SM…` may count from the store: every message from the first read on,
        # as long as reads follow each other without a gap.
        held = await self.store.watcher.coverage()
        start, back = since, None
        if held is not None and held.through >= since:
            start, back = held.since, held.reading_back
        elif held is None and mark is not None:
            # A watcher ran here before coverage was kept: the history it stored counts.
            # (Without a watermark, older messages were stored by `why` or a callback.)
            start = min(start, await self.store.messages.earliest_moment() or start)
        elif held is not None and held.reading_back is not None:
            log.warning("a gap since %s: the reading back to %s is given up", held.through, since)
        if head.rest is not None:
            log.warning(
                "more than %d messages since %s: the older ones are read over the next cycles",
                head.read,
                since,
            )
            if back is not None:
                log.warning("the reading back to %s is given up for this one", back.down_to)
            back = ReadingBack(head.rest, down_to=since, joins=start)
            start = head.oldest or now
        elif not head.whole:
            # An empty page and no next part of the way: claim only what was read.
            log.warning("Twilio's list ended early reading back to %s", since)
            start, back = head.oldest or now, None
        await self._cover(start, back, now)
        if head.newest is not None:
            if mark is None or head.newest > datetime.fromisoformat(mark):
                await self.store.watcher.put(WATERMARK, head.newest.astimezone(UTC).isoformat())
            self.health.lag_seconds = (now - head.newest).total_seconds()
        elif mark is None:
            await self.store.watcher.put(WATERMARK, since.astimezone(UTC).isoformat())
        if back is None or head.rest is not None:
            return head.read
        return head.read + await self._read_back(back, start, now)

    async def read_back_only(self, now: datetime) -> int:
        """Between sweeps, while Event Streams brings what is new: a slice more of the
        history an earlier walk left, if any (a first backfill goes on every cycle). The
        coverage still ends where the last sweep read: the head is not read here."""
        held = await self.store.watcher.coverage()
        if held is None or held.reading_back is None:
            return 0
        return await self._read_back(held.reading_back, held.since, now, held.through)

    async def _read_back(
        self, back: ReadingBack, start: datetime, now: datetime, through: datetime | None = None
    ) -> int:
        """A slice more of what an earlier walk left. The new messages are in and
        covered whatever this does: a failure here leaves the cycle to measure them.
        `through`: where the coverage ends, if not now (the head unread)."""
        down_to = max(back.down_to, now - self.config.retention)
        try:
            tail = await self._walk(down_to, back.next_page, self.config.tuning.backfill_pages)
        except StoreError:
            raise  # the database, not Twilio: the cycle fails and says so
        except (NotFound, TwilioRejected) as exc:
            # Twilio refuses the page it named (a token gone stale): the history held
            # stays as it is, rather than a refusal every cycle.
            log.warning("reading back to %s given up, Twilio refused: %s", back.down_to, exc)
            await self._cover(start, None, now, through)
            return 0
        except BotError as exc:
            log.warning("reading back to %s failed, tried again next cycle: %s", back.down_to, exc)
            return 0
        if tail.rest is not None:
            start = min(start, tail.oldest or start)
            await self._cover(start, ReadingBack(tail.rest, back.down_to, back.joins), now, through)
        elif tail.whole:
            await self._cover(back.joins, None, now, through)  # read back all the way
        else:
            # An empty page and no next: whether older messages are left is unknown, so
            # the coverage claims only what was read.
            log.warning("Twilio's list ended early reading back to %s; given up", back.down_to)
            await self._cover(start, None, now, through)
        return tail.read

    async def _cover(
        self,
        start: datetime,
        back: ReadingBack | None,
        now: datetime,
        through: datetime | None = None,
    ) -> None:
        """Record what is held from `start` on, through `through` (now unless said);
        health says while it is less than BACKFILL_HOURS (reading back, or given up), so
        status can show it."""
        config = self.config
        start = max(start, now - config.retention)  # pruned, whatever was read
        coverage = Coverage(start, through or now, self.every_seconds, back)
        await self.store.watcher.set_coverage(coverage)
        wanted = self._floor(now)
        self.health.history_since = start.timestamp()
        self.health.history_wanted_since = (
            wanted.timestamp() if start > wanted + PARTIAL_SLACK else None
        )
        self.health.history_reading_back = back is not None

    def _floor(self, now: datetime) -> datetime:
        """Where the history is to begin: BACKFILL_HOURS back, and nothing older than
        RETENTION_DAYS (the next prune would delete it again)."""
        return now - min(self.config.backfill, self.config.retention)

    async def _walk(self, since: datetime, resume: str | None, max_pages: int) -> Stretch:
        """Messages created from `since` on, newest first, at most `max_pages` pages
        (from `resume`, a next-page URI, if given), stored as they come."""
        tuning = self.config.tuning
        read = found_here = 0
        newest: datetime | None = None
        oldest: datetime | None = None
        unsaved: list[Message] = []

        async def keep(page: list[Message]) -> None:
            # Pages are stored while the next is on its way, several to a transaction:
            # each commit rewrites the index pages the batch touched, so fewer, larger
            # batches cost a third as much (bench/ingest.py). Memory holds one batch.
            nonlocal read, newest, oldest, found_here
            found = [m for m in page if m.date_created is None or m.date_created >= since]
            unsaved.extend(found)
            if len(unsaved) >= tuning.save_batch:
                found_here += await self.store.messages.save(unsaved)
                unsaved.clear()
            read += len(found)
            for moment in (m.date_created for m in found if m.date_created is not None):
                if newest is None or moment > newest:
                    newest = moment
                if oldest is None or moment < oldest:
                    oldest = moment

        walk = await self.twilio.read_messages(
            keep,
            created_after=since,
            page_size=tuning.page_size,
            max_pages=max_pages,
            resume=resume,
        )
        found_here += await self.store.messages.save(unsaved)
        return Stretch(read, newest, oldest, walk.rest, walk.whole, found_here)
