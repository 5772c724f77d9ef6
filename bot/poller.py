"""Poller: the watcher's cycle. Read the account and its messages, evaluate, tell Slack.

One cycle: fetch the Account; ingest messages created since the watermark (less an overlap),
re-reading the settle window so late statuses are seen; measure each watched code and
decide each incident; queue what Slack should see in the outbox and deliver it; prune.
A cycle that fails is logged and kept in `health`; the next one starts on time.
"""

import asyncio
import hashlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot import alerting, knowledge, spikes
from bot.alerting import Incident, Step
from bot.blocks import SLACK_USER_ID
from bot.curated import Entry
from bot.errors import (
    BotError,
    CredentialsRejected,
    SlackMisconfigured,
    SlackRejected,
    SlackUnavailable,
    StoreError,
    WatcherBusy,
)
from bot.incident_blocks import render_incident
from bot.knowledge import Explanation
from bot.messages import Message, utc, when
from bot.settings import Settings
from bot.spikes import Reading
from bot.status import StatusReport
from bot.store import Change, Coverage, Draft, Drawn, IncidentRecord, PostKind, Store
from bot.twilio_api import TwilioApi

log = logging.getLogger(__name__)

HEALTH = "watcher_health"  # the last cycle's Health as JSON, for `status` in any process
WATERMARK = "messages_watermark"  # the newest date_created ingested, ISO 8601
INACTIVE_AT = "account_inactive_at"  # the last cycle that saw the account not active
OVERLAP = timedelta(minutes=2)
PAGE_SIZE = 1000
MAX_PAGES = 250  # per cycle: 250 000 messages, newest first; older ones are not read
SAVE_BATCH = 10_000  # messages written to the store in one transaction
BASELINE_SPAN = timedelta(days=7)
FIRST_CYCLE_GRACE_SECONDS = 600


class Poster(Protocol):
    """The alert channel as the watcher needs it (bot.slack_poster.Poster is the real one)."""

    async def post(
        self, channel: str, text: str, blocks: list[Any], thread_ts: str | None = None
    ) -> tuple[str, str]: ...

    async def update(self, channel: str, ts: str, text: str, blocks: list[Any]) -> None: ...

    async def permalink(self, channel: str, ts: str) -> str | None: ...


@dataclass
class Health:
    """What `/healthz` and `/twilio status` say about the watcher."""

    started_at: float = 0.0  # time.time() of the process start
    last_started: float | None = None
    last_finished: float | None = None
    last_duration_seconds: float | None = None
    last_error: str | None = None
    cycles: int = 0
    account_status: str | None = None
    lag_seconds: float | None = None  # now minus the newest message seen
    pending_posts: int = 0
    refused_posts: int = 0  # given up on after Slack refused them again and again
    slack_problem: str | None = None  # what a person must fix before Slack takes posts
    slack_outage: bool = False  # posts wait because Slack failed or was not Slack
    database_problem: str | None = None  # the database fails: what, and what to do
    last_success: float | None = None
    twilio_faults: int = 0  # since the start: 429/5xx/timeouts/unreadable answers, retried
    twilio_gave_up: int = 0  # since the start: requests that failed every attempt

    def stalled(self, now: float, interval: float) -> bool:
        """No cycle has ended, well or badly, for three intervals (the first, which may
        read a day of history, gets ten minutes more)."""
        if self.last_finished is not None:
            return now - self.last_finished > 3 * interval
        return now - self.started_at > 3 * interval + FIRST_CYCLE_GRACE_SECONDS


@dataclass(frozen=True)
class CycleResult:
    """What a cycle did. `steps[i]` is the decision on `readings[i]`; the credentials
    reading leads while its incident is open or has just been resolved."""

    ingested: int
    readings: tuple[Reading, ...]
    steps: tuple[Step, ...]
    delivered: int
    pending: int


class Poller:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        twilio: TwilioApi,
        poster: Poster | None,  # None: reads and reports only, as the terminal's `status`
        curated: Mapping[int, Entry],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.store = store
        self.twilio = twilio
        self.poster = poster
        self.curated = curated
        self.clock = clock
        self.health = Health(started_at=time.time())
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._delivering = asyncio.Lock()
        self.stopping = False  # checked every beat: a cancel lost inside a call still stops
        self._slack_error: str | None = None
        self._slack_problem: str | None = None
        self._slack_outage = False

    async def run_forever(self) -> None:
        """A cycle every POLL_INTERVAL_SECONDS, on a fixed beat whatever a cycle costs."""
        try:
            await self._beat()
        finally:
            await self.store.watcher.release_lease(self.owner)

    async def _beat(self) -> None:
        interval = self.settings.poll_interval_seconds
        beat = time.monotonic()
        while not self.stopping:
            await self.cycle_safely()
            beat += interval
            # A cycle longer than the interval skips the beats it overran, not the next one.
            while beat < time.monotonic():
                beat += interval
            await asyncio.sleep(beat - time.monotonic())

    async def cycle_safely(self) -> CycleResult | None:
        try:
            result = await self.cycle()
            self.health.database_problem = None
            return result
        except StoreError as exc:
            # Loud, and in health: no cycle can do anything until someone acts.
            log.error("poll cycle failed: %s", exc)
            self.health.last_error = self.health.database_problem = str(exc)
            self.health.last_finished = time.time()
        except BotError as exc:
            # Not the database: the cycle wrote its lease before failing, so whatever the
            # database had is over (else health would send on-call to the wrong system).
            self.health.database_problem = None
            log.warning("poll cycle failed: %s", exc)
        except Exception as exc:
            log.exception("poll cycle failed")
            self.health.last_error = f"a bug: {type(exc).__name__}; see the log"
        return None

    async def cycle(self) -> CycleResult:
        started = time.monotonic()
        self.health.last_started = time.time()
        self._slack_error = self._slack_problem = None
        self._slack_outage = False
        now = self.clock()
        lease = timedelta(seconds=3 * self.settings.poll_interval_seconds + 60)
        if not await self.store.watcher.take_lease(self.owner, now, lease):
            # Standing by is alive and well: /healthz must not have the platform restart it.
            self.health.last_finished = time.time()
            self.health.last_error = "another poller is watching this database"
            raise WatcherBusy(
                "another poller is watching this database (a serving bot with "
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
                await self._credentials(True, now)
                raise
            readings, steps = await self._credentials(False, now)
            self.health.account_status = account.status
            if account.status != "active":
                await self.store.watcher.put(INACTIVE_AT, now.astimezone(UTC).isoformat())
            ingested = await self._ingest(now)
            measured = await self._measure(now, account.status)
            readings += measured
            steps += tuple([await self._decide(reading, now) for reading in measured])
        except BotError as exc:
            failure = exc
        # Whatever Twilio did, what earlier cycles queued for Slack still goes.
        delivered = await self.deliver(now)
        await self.store.messages.prune(now - self.settings.retention)
        pending = len(await self.store.outbox.pending())
        self.health.pending_posts = pending
        self.health.refused_posts = await self.store.outbox.refused_posts()
        # Kept while posts wait and this cycle did not get as far as meeting it again.
        if self._slack_problem or delivered or not pending:
            self.health.slack_problem = self._slack_problem
        self.health.slack_outage = self._slack_outage and pending > 0
        self.health.twilio_faults = self.twilio.http.faults
        self.health.twilio_gave_up = self.twilio.http.gave_up
        self.health.last_finished = time.time()
        self.health.last_duration_seconds = time.monotonic() - started
        # The last cycle's trouble, kept until a cycle has none.
        self.health.last_error = str(failure) if failure else self._slack_error
        if failure is not None:
            await self.store.watcher.put(HEALTH, json.dumps(asdict(self.health)))
            raise failure
        self.health.last_success = self.health.last_finished
        self.health.cycles += 1
        await self.store.watcher.put(HEALTH, json.dumps(asdict(self.health)))
        return CycleResult(ingested, readings, steps, delivered, pending)

    async def _ingest(self, now: datetime) -> int:
        mark = await self.store.watcher.get(WATERMARK)
        floor = now - self.settings.backfill
        since = floor if mark is None else datetime.fromisoformat(mark) - OVERLAP
        since = max(floor, min(since, now - self.settings.settle))
        read = 0
        newest: datetime | None = None
        oldest: datetime | None = None
        unsaved: list[Message] = []

        async def keep(page: list[Message]) -> None:
            # Pages are stored while the next is on its way, several to a transaction:
            # each commit rewrites the index pages the batch touched, so fewer, larger
            # batches cost a third as much (bench/ingest.py). Memory holds one batch.
            nonlocal read, newest, oldest
            found = [m for m in page if m.date_created is None or m.date_created >= since]
            unsaved.extend(found)
            if len(unsaved) >= SAVE_BATCH:
                await self.store.messages.save(unsaved)
                unsaved.clear()
            read += len(found)
            for moment in (m.date_created for m in found if m.date_created is not None):
                if newest is None or moment > newest:
                    newest = moment
                if oldest is None or moment < oldest:
                    oldest = moment

        pages = await self.twilio.read_messages(
            keep, created_after=since, page_size=PAGE_SIZE, max_pages=MAX_PAGES
        )
        await self.store.messages.save(unsaved)
        # What `why SM…` may count from the store: every message from the first read on,
        # as long as reads follow each other without a gap.
        held = await self.store.watcher.coverage()
        start = held.since if held is not None and held.through >= since else since
        if held is None and mark is not None:
            # A watcher ran here before coverage was kept: the history it stored counts.
            # (Without a watermark, older messages were stored by `why` or a callback.)
            start = min(start, await self.store.messages.earliest_moment() or start)
        if pages >= MAX_PAGES and read >= PAGE_SIZE * MAX_PAGES:
            log.warning("more than %d messages since %s: the older ones were not read", read, since)
            start = oldest or now
        await self.store.watcher.set_coverage(
            Coverage(start, now, self.settings.poll_interval_seconds)
        )
        if newest is not None:
            if mark is None or newest > datetime.fromisoformat(mark):
                await self.store.watcher.put(WATERMARK, newest.astimezone(UTC).isoformat())
            self.health.lag_seconds = (now - newest).total_seconds()
        elif mark is None:
            await self.store.watcher.put(WATERMARK, since.astimezone(UTC).isoformat())
        return read

    async def _measure(self, now: datetime, account_status: str) -> tuple[Reading, ...]:
        thresholds = self.settings.thresholds
        since = now - max(spikes.SPARK_SPAN, thresholds.window)
        codes = dict.fromkeys((spikes.SUSPENDED_CODE, *self.settings.alert_codes))
        # Counts for the many messages, whole rows only for the few that failed.
        counted = spikes.tally(await self.store.messages.tally(since, now), thresholds.window, now)
        failing = await self.store.messages.failing(codes, now - thresholds.window, now)
        carriers = await self.store.lookups.carriers()
        # The baseline ends before the settle window, whose messages may still change.
        until = now - thresholds.window - self.settings.settle
        inactive = await self.store.watcher.get(INACTIVE_AT)
        # While the watcher has watched for less than the baseline's span, say how long.
        held = await self.store.watcher.coverage()
        hours = None
        if held is not None and held.since > now - BASELINE_SPAN:
            hours = max(0.0, (until - held.since).total_seconds() / 3600)
        readings = []
        for code in codes:
            baseline = await self.store.messages.baseline(code, now - BASELINE_SPAN, until)
            baseline = replace(baseline, hours=hours)
            reading = spikes.measure_tally(
                code, counted, failing, baseline, carriers, thresholds, now
            )
            if code == spikes.SUSPENDED_CODE:
                reading = spikes.suspension_reading(
                    reading,
                    account_status,
                    datetime.fromisoformat(inactive) if inactive else None,
                    failing,
                    watched=code in self.settings.alert_codes,
                )
            readings.append(reading)
        return tuple(readings)

    async def _credentials(
        self, rejected: bool, now: datetime
    ) -> tuple[tuple[Reading, ...], tuple[Step, ...]]:
        """The credentials reading and its step, while they concern an incident."""
        reading = spikes.credentials_reading(rejected, now)
        step = await self._decide(reading, now)
        return ((reading,), (step,)) if step.incident is not None else ((), ())

    async def _decide(self, reading: Reading, now: datetime) -> Step:
        key = alerting.incident_key(self.settings.twilio_account_sid, reading.code)
        thresholds = self.settings.thresholds
        # One accepted call proves the credentials; one read of an active account, with no
        # 30002 since, proves the suspension is over.
        if reading.code == spikes.CREDENTIALS_CODE or (
            reading.code == spikes.SUSPENDED_CODE and reading.account_status == "active"
        ):
            thresholds = replace(thresholds, resolve_after=1)
        current = await self.store.incidents.open_for(key)
        step = alerting.evaluate(current, reading, key, thresholds, now)
        if step.incident is None and current is None:
            return step  # nothing to write
        explanation = await self._explain(reading.code)
        decided: list[Step] = []

        def decide(record: IncidentRecord | None) -> Change | None:
            # Evaluated again on the incident as the transaction reads it: a button may
            # have changed it since `current` was read.
            held = record.incident if record is not None else None
            step = alerting.evaluate(held, reading, key, thresholds, now)
            decided.append(step)
            if step.incident is None:
                return None
            changed = step.incident
            shown = record.reading if record else None  # the reading its message shows
            fresh = alerting.keep_samples(shown, reading)
            if step.tell_slack and alerting.worth_showing(shown, fresh, held, changed):
                note = step.note or alerting.catch_up_note(shown, changed, fresh, now)
                # Kept with the severity the message now shows, for the next comparison.
                drawn = replace(fresh, severity=changed.severity)
                same = record if changed.id is not None else None
                return show(changed, drawn, same, explanation, note)
            # The figures moved too little to be worth a reader's attention: the message
            # keeps what it shows until something they would act on changes.
            return Change(changed)

        await self.store.incidents.apply(current.id if current else None, decide, now)
        return decided[0]

    async def _explain(self, code: int) -> Explanation:
        imported = None if code in self.curated else await self.store.dictionary.entry(code)
        return knowledge.explain(code, self.curated, imported)

    async def acknowledge(self, incident_id: int, user: str) -> str:
        found = await self.store.incidents.record(incident_id)
        if found is not None and found.incident.acknowledged_by:
            return f"It was already acknowledged by <@{found.incident.acknowledged_by}>."
        return await self._change(incident_id, user, "acknowledged", acknowledged_by=user)

    async def mute(self, incident_id: int, user: str, hours: int) -> str:
        until = self.clock() + timedelta(hours=hours)
        return await self._change(incident_id, user, f"muted for {hours} h", muted_until=until)

    async def _change(self, incident_id: int, user: str, what: str, **changes: Any) -> str:
        """Record a button's change on the incident and show it in the channel at once."""
        found = await self.store.incidents.record(incident_id)
        if found is None or found.reading is None:
            return "That incident is not in this bot's database."
        if found.incident.resolved_at is not None:
            return "That incident is already resolved."
        now = self.clock()
        who = f"<@{user}>" if SLACK_USER_ID.fullmatch(user) else "someone"
        explanation = await self._explain(found.incident.code)

        def decide(record: IncidentRecord | None) -> Change | None:
            if record is None or record.reading is None:
                return None
            changed = replace(record.incident, **changes)
            drawn = replace(record.reading, severity=changed.severity)
            return show(changed, drawn, record, explanation, f"{utc(now)}: {what} by {who}.")

        await self.store.incidents.apply(incident_id, decide, now)
        return f"Done: the incident is {what}."

    async def deliver_queued(self) -> int:
        """Send what a button queued, now. Only the lease holder sends, or two processes
        could send the same post; any other leaves it for the holder's next cycle."""
        now = self.clock()
        if not await self.store.watcher.holds_lease(self.owner, now):
            return 0
        return await self.deliver(now)

    async def status(self) -> StatusReport:
        """The account and the watcher as the last cycle (in whichever process) left them,
        each watched code measured now, and the open incidents with links to them."""
        now = self.clock()
        # This process's own record when it watches: the stored one is what the last cycle
        # could write, and a failing database is exactly what keeps it from writing.
        if self.health.last_finished is not None:
            health = asdict(self.health)
        else:
            health = json.loads(await self.store.watcher.get(HEALTH) or "{}")
        readings = await self._measure(now, str(health.get("account_status") or "active"))
        incidents = await self.store.incidents.open_all()
        links = {}
        for incident in incidents:
            assert incident.id is not None  # read from the store
            found = await self.store.incidents.record(incident.id)
            if found is None or found.posted is None or self.poster is None:
                continue
            link = await self.poster.permalink(found.posted.channel, found.posted.ts)
            if link:
                links[incident.id] = link
        return StatusReport(
            self.settings.twilio_account_sid, health, readings, tuple(incidents), links, now
        )

    async def samples(self, incident_id: int) -> list[Message]:
        """The incident's sample messages as the store holds them, newest first."""
        found = await self.store.incidents.record(incident_id)
        if found is None or found.reading is None:
            return []
        held = await self.store.messages.by_sid(found.reading.samples)
        return sorted(held, key=when, reverse=True)

    async def deliver(self, now: datetime) -> int:
        """Send what the outbox holds, oldest first; stop at the first failure, so nothing
        overtakes the message it belongs to. Returns how many went."""
        async with self._delivering:  # a button and a cycle must not send the same post
            return await self._deliver(now)

    async def _deliver(self, now: datetime) -> int:
        if self.poster is None:
            return 0  # nothing to send with: what is queued waits for a watcher
        sent = 0
        held: set[int] = set()  # incidents with a post that did not go: nothing overtakes it
        blocked: set[str] = set()  # channels Slack refuses until someone fixes the setup
        for listed in await self.store.outbox.pending():
            if listed.incident_id in held:
                continue
            # A new alert goes where the setting says now: it may have been corrected.
            channel, ts = self.settings.slack_alert_channel, ""
            if listed.kind != PostKind.POST:
                found = await self.store.incidents.record(listed.incident_id)
                if found is None or found.posted is None:
                    held.add(listed.incident_id)  # its message has not gone yet
                    continue
                channel, ts = found.posted.channel, found.posted.ts
            if channel in blocked:
                held.add(listed.incident_id)
                continue
            # While an earlier post waited on Slack, a button may have changed this one.
            post = await self.store.outbox.claim(listed.id)
            if post is None:
                continue  # replaced by a newer edit, queued after it
            try:
                posted = None
                if post.kind == PostKind.POST:
                    posted = await self.poster.post(channel, post.text, post.blocks)
                elif post.kind == PostKind.UPDATE:
                    await self.poster.update(channel, ts, post.text, post.blocks)
                else:
                    await self.poster.post(channel, post.text, post.blocks, thread_ts=ts)
                await self.store.outbox.mark_sent(post.id, now, posted)
            except SlackUnavailable as exc:
                await self.store.outbox.mark_failed(post.id, str(exc), refused=False)
                log.warning("Slack post %s held for the next cycle: %s", post.id, exc)
                self._slack_error = f"Slack: {exc}"
                self._slack_outage = True
                break  # Slack is down or limiting: the rest would fare no better
            except SlackMisconfigured as exc:
                # Not the post's fault: it waits, however long, for the fix. But only the
                # token and the alert channel can be fixed; an older alert's channel, gone
                # or closed, refuses its edits and notes like any post, up to the limit.
                fixable = exc.channel in (None, self.settings.slack_alert_channel)
                await self.store.outbox.mark_failed(post.id, str(exc), refused=not fixable)
                if fixable:
                    self._setup_problem(exc)
                else:
                    log.warning("Slack refused post %s: %s", post.id, exc)
                    self._slack_error = f"Slack: {exc}"
                if exc.channel is None:
                    break  # the token itself: every other post would be refused too
                blocked.add(exc.channel)
                held.add(post.incident_id)
                continue
            except SlackRejected as exc:
                # Slack said no to this one (a deleted message, bad blocks): try again
                # next cycle, up to a limit, but let others through.
                await self.store.outbox.mark_failed(post.id, str(exc), refused=True)
                log.warning("Slack refused post %s: %s", post.id, exc)
                self._slack_error = f"Slack: {exc}"
                held.add(post.incident_id)
                continue
            sent += 1
        return sent

    def _setup_problem(self, exc: SlackMisconfigured) -> None:
        # Loud the first time; the same problem again next cycle is only a warning.
        level = logging.WARNING if exc.fix == self.health.slack_problem else logging.ERROR
        log.log(level, "%s; posts are held until someone acts. %s", exc, exc.fix)
        self._slack_error = f"Slack: {exc}"
        self._slack_problem = exc.fix


def show(
    incident: Incident,
    reading: Reading,
    record: IncidentRecord | None,
    explanation: Explanation,
    note: str | None,
) -> Change:
    """`incident`, now showing `reading`, and what the channel should see of it: its
    message as it now stands (a post the first time, an edit when it looks different),
    and a thread note. `record` is the incident as stored (None for a new one)."""

    def draw(saved: Incident) -> Drawn:
        text, blocks = render_incident(saved, reading, explanation)
        shown = hashlib.sha256(json.dumps(blocks, sort_keys=True).encode()).hexdigest()
        drafts = []
        if record is None or (record.posted is None and not record.queued):
            drafts.append(Draft(PostKind.POST, text, blocks))
        elif shown != (record.posted.shown if record.posted else ""):
            drafts.append(Draft(PostKind.UPDATE, text, blocks))
        if note:
            drafts.append(Draft(PostKind.REPLY, note, []))
        return Drawn(shown, tuple(drafts))

    return Change(incident, reading, draw)
