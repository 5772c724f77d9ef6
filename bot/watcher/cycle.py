"""Cycle: the watcher's beat. Take the lease, read the account and its messages, measure
each watched code, decide each incident, deliver what Slack is owed, prune.

Thin I/O around the pure stages (`detect`, `incidents`), after `ingest` has read what
is new (and the settle window again, for late statuses). A cycle that fails is logged
and kept in `health`; the next one starts on time.
"""

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.adapters.twilio import TwilioApi
from bot.answers.curated import Entry
from bot.domain import account_readings, alerting
from bot.domain.alerting import Step
from bot.domain.spikes import Reading
from bot.errors import BotError, CredentialsRejected, LeaseLost, StoreError, WatcherBusy
from bot.store import Store
from bot.watcher import detect, incidents, reads
from bot.watcher.actions import Actions
from bot.watcher.config import WatcherConfig
from bot.watcher.delivery import Delivery, Poster
from bot.watcher.digests import Digests
from bot.watcher.health import HEALTH, Health
from bot.watcher.ingest import Ingest
from bot.watcher.registrations import RegistrationWatch
from bot.watcher.subaccounts import SubaccountWatch
from bot.watcher.sweeps import Sweep

log = logging.getLogger(__name__)

# Event ids are kept this long: Twilio stops delivering an event again after 4 hours.
REPORT_IDS_KEPT = timedelta(hours=6)


@dataclass(frozen=True)
class CycleResult:
    """What a cycle did. `steps[i]` is the decision on `readings[i]`; the credentials
    reading leads while its incident is open or has just been resolved."""

    ingested: int
    readings: tuple[Reading, ...]
    steps: tuple[Step, ...]
    delivered: int
    pending: int


class Watcher:
    def __init__(
        self,
        config: WatcherConfig,
        store: Store,
        twilio: TwilioApi,
        poster: Poster | None,  # None: reads and reports only, as the terminal's `status`
        curated: Mapping[int, Entry],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.store = store
        self.twilio = twilio
        self.curated = curated
        self.clock = clock
        self.health = Health(started_at=self._wall())
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.ingest = Ingest(config, store, twilio, self.health)
        self.sweep = Sweep(config, store, self.ingest, self.health)
        self.subaccounts = SubaccountWatch(config, store, twilio, self.health)
        self.delivery = Delivery(store, poster, config.alert_channel, self.health, clock)
        self.histories = reads.SegmentHistories()  # this process's, for cycles and status
        self.digests = Digests(store, poster, config, curated)
        self.registrations = RegistrationWatch(store, twilio, poster, config, curated)
        self.actions = Actions(
            store, config, curated, self.delivery, self.health, self.histories, clock
        )
        self.stopping = False  # checked every beat: a cancel lost inside a call still stops
        self._nudged = asyncio.Event()

    def nudge(self) -> None:
        """A cycle soon, before the beat: Event Streams has delivered failures of a
        watched code. Several nudges make one cycle, no sooner than half the interval
        (and `nudge_gap_seconds`) after the last began. Such an early cycle only
        opens incidents: edits, escalations and resolutions keep the beat, so
        ALERT_RESOLVE_AFTER still counts intervals."""
        self._nudged.set()

    def _wall(self) -> float:
        """The watcher's clock as seconds since the epoch, for health: one clock for the
        cycles and for what health says of them (tests move it)."""
        return self.clock().timestamp()

    async def run_forever(self) -> None:
        """A cycle every POLL_INTERVAL_SECONDS, on a fixed beat whatever a cycle costs."""
        try:
            interval = self.config.poll_interval_seconds
            # At most one early cycle between two beats (by default): evaluations, each a
            # chance of a false alarm (bench/segments.py), at most double.
            tuning = self.config.tuning
            gap = max(tuning.nudge_gap_seconds, interval * tuning.early_share)
            beat = time.monotonic()
            while not self.stopping:
                began = time.monotonic()
                await self.cycle_safely()
                beat += interval
                # A cycle longer than the interval skips the beats it overran, not the next.
                while beat < time.monotonic():
                    beat += interval
                # Until the beat, a cycle for each nudge, the gap apart.
                while not self.stopping and await self._nudge_before(beat):
                    await asyncio.sleep(max(0.0, min(began + gap, beat) - time.monotonic()))
                    if time.monotonic() >= beat:
                        break
                    began = time.monotonic()
                    await self.cycle_safely(early=True)
                await asyncio.sleep(max(0.0, beat - time.monotonic()))
        finally:
            try:
                await self.store.watcher.release_lease(self.owner)
            except StoreError as exc:  # the next watcher waits out the lease, or the lock
                log.warning("the watcher's lease was not given back: %s", exc)

    async def _nudge_before(self, beat: float) -> bool:
        """Wait for a nudge until the monotonic moment `beat`; whether one came."""
        try:
            await asyncio.wait_for(self._nudged.wait(), max(0.0, beat - time.monotonic()))
        except TimeoutError:
            return False
        self._nudged.clear()
        return True

    async def cycle_safely(self, early: bool = False) -> CycleResult | None:
        try:
            result = await self.cycle(early)
            self.health.database_problem = None
            return result
        except StoreError as exc:
            # Loud, and in health: no cycle can do anything until someone acts.
            log.error("poll cycle failed: %s", exc)
            self.health.last_error = self.health.database_problem = str(exc)
            self.health.last_finished = self._wall()
        except BotError as exc:
            # Not the database: the cycle wrote its lease before failing, so whatever the
            # database had is over (else health would send on-call to the wrong system).
            self.health.database_problem = None
            log.warning("poll cycle failed: %s", exc)
        except Exception as exc:
            log.exception("poll cycle failed")
            self.health.last_error = f"a bug: {type(exc).__name__}; see the log"
        return None

    async def cycle(self, early: bool = False) -> CycleResult:
        """One cycle; an `early` one (a nudge's) only opens incidents."""
        started = time.monotonic()
        health = self.health
        health.last_started = self._wall()
        self.delivery.start_cycle()
        now = self.clock()
        lease = timedelta(seconds=3 * self.config.poll_interval_seconds + 60)
        term = await self.store.watcher.take_lease(self.owner, now, lease)
        if term is None:
            # Standing by is alive and well: /healthz must not have the platform restart it.
            health.last_finished = self._wall()
            health.last_error = "another watcher is watching this database"
            raise WatcherBusy(
                "another watcher is watching this database (a serving bot with "
                "SLACK_ALERT_CHANNEL, or another `poll`); this one stands by"
            )
        failure: BotError | None = None
        ingested = 0
        readings: tuple[Reading, ...] = ()
        steps: tuple[Step, ...] = ()
        try:
            # One incident while Twilio refuses the credentials, resolved by the first
            # cycle it takes them again: more than a failed cycle in the log.
            try:
                account = await self.twilio.fetch_account()
            except CredentialsRejected:
                await self._credentials(True, now, term, early)
                raise
            readings, steps = await self._credentials(False, now, term, early)
            health.account_status = account.status
            if account.status != "active":
                await self.store.watcher.put(reads.INACTIVE_AT, now.astimezone(UTC).isoformat())
            ingested = await self.sweep.read(now)
            watched = await self.subaccounts.read(now)
            ingested += watched.read
            # The lease again after the long part: a slow Twilio must not let it run out
            # under a cycle that is still deciding (a standby would take it over).
            if await self.store.watcher.take_lease(self.owner, self.clock(), lease) != term:
                raise LeaseLost("the lease passed to another watcher during this cycle")
            measured = await reads.measure(
                self.store, self.config, account.status, now, self.histories, watched.watched
            )
            readings += measured
            steps += tuple([await self._decide(reading, now, term, early) for reading in measured])
        except BotError as exc:
            failure = exc
        # Whatever Twilio did, what earlier cycles queued for Slack still goes.
        delivered = await self.delivery.deliver(term)
        try:
            await self.digests.post_if_due(now)
        except BotError as exc:  # the database, most likely: the next cycle tries again
            log.warning("the daily digest waits: %s", exc)
        try:
            await self.registrations.check_if_due(now)
        except BotError as exc:
            log.warning("registrations wait for the next cycle: %s", exc)
        await self._prune(now)
        pending = len(await self.store.outbox.pending())
        trouble = self.delivery.trouble
        health.pending_posts = pending
        health.refused_posts = await self.store.outbox.refused_posts()
        # Kept while posts wait and this cycle did not get as far as meeting it again.
        if trouble.problem or delivered or not pending:
            health.slack_problem = trouble.problem
        health.slack_outage = trouble.outage and pending > 0
        health.twilio_faults = self.twilio.http.faults
        health.twilio_gave_up = self.twilio.http.gave_up
        health.last_finished = self._wall()
        health.last_duration_seconds = time.monotonic() - started
        # The last cycle's trouble, kept until a cycle has none.
        health.last_error = str(failure) if failure else trouble.error
        if failure is None:
            health.last_success = health.last_finished
            health.cycles += 1
        if not isinstance(failure, LeaseLost):  # the lease's holder now says how it is
            await self.store.watcher.put(HEALTH, health.to_json())
        if failure is not None:
            raise failure
        return CycleResult(ingested, readings, steps, delivered, pending)

    async def _prune(self, now: datetime) -> int:
        """Retention, in batches, for at most the cycle's share of time: after days down,
        the backlog goes over several cycles rather than holding one."""
        tuning = self.config.tuning
        deadline = time.monotonic() + tuning.prune_seconds_per_cycle
        await self.store.messages.forget_reports(now - REPORT_IDS_KEPT)
        pruned = 0
        while True:
            gone = await self.store.messages.prune(now - self.config.retention, tuning.prune_batch)
            pruned += gone
            if gone < tuning.prune_batch or time.monotonic() >= deadline:
                return pruned

    async def _credentials(
        self, rejected: bool, now: datetime, term: int, early: bool
    ) -> tuple[tuple[Reading, ...], tuple[Step, ...]]:
        """The credentials reading and its step, while they concern an incident."""
        reading = account_readings.credentials_reading(rejected, now)
        step = await self._decide(reading, now, term, early)
        return ((reading,), (step,)) if step.incident is not None else ((), ())

    async def _decide(
        self, reading: Reading, now: datetime, term: int, early: bool = False
    ) -> Step:
        """Decide the reading's incident, fenced with the lease's `term`: once another
        watcher has the lease, this one's decisions are refused (LeaseLost). An `early`
        cycle only opens one."""
        key = alerting.incident_key(reading.subaccount or self.config.account_sid, reading.code)
        thresholds = detect.thresholds_for(reading, self.config.thresholds)
        current = await self.store.incidents.open_for(key)
        if current is None and reading.severity is None:
            return Step(None)  # nothing open, nothing firing: nothing to write
        if early and current is not None:
            return Step(None)  # its edits, escalation and resolution keep the beat
        explained = await reads.explanation(self.store, self.curated, reading.code)
        decision = incidents.Decision()
        await self.store.incidents.apply(
            current.id if current else None,
            lambda record: incidents.decide(
                record, reading, key, thresholds, explained, now, decision
            ),
            now,
            fence=term,
        )
        return decision.step
