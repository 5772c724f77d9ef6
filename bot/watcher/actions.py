"""Actions: the incident buttons (acknowledge, mute, samples) and `/twilio status`,
answered from the store; a change shows on the alert at once."""

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.answers.curated import Entry
from bot.answers.status import StatusReport
from bot.domain.alerting import Incident
from bot.domain.messages import Message, utc, when
from bot.domain.spikes import Reading
from bot.errors import StoreError
from bot.render.blocks import SLACK_USER_ID, mute_span
from bot.store import SegmentMute, Store
from bot.watcher import incidents, reads
from bot.watcher.config import WatcherConfig
from bot.watcher.delivery import Delivery
from bot.watcher.health import HEALTH, Health
from bot.watcher.subaccounts import last_watched


class Actions:
    def __init__(
        self,
        store: Store,
        config: WatcherConfig,
        curated: Mapping[int, Entry],
        delivery: Delivery,
        health: Health,
        histories: reads.SegmentHistories,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.config = config
        self.curated = curated
        self.delivery = delivery
        self.health = health  # this process's, when it watches
        self.histories = histories
        self.clock = clock

    async def acknowledge(self, incident_id: int, user: str) -> str:
        return await self._change(incident_id, user, "acknowledged", acknowledged_by=user)

    async def mute(self, incident_id: int, user: str, hours: int) -> str:
        until = self.clock() + timedelta(hours=hours)
        return await self._change(incident_id, user, f"muted for {hours} h", muted_until=until)

    async def mute_segment(self, incident_id: int, user: str, hours: int) -> str:
        """Leave the segment the incident is named after out of detection for `hours`:
        the incident resolves when nothing else keeps it open. Said in its thread."""
        found = await self.store.incidents.record(incident_id)
        if (reason := incidents.refusal(found)) is not None:
            return reason
        assert found is not None and found.reading is not None  # refusal() says why
        named = found.reading.named
        if named is None:
            return "That incident is not about one segment any more: nothing was muted."
        now = self.clock()
        until = now + timedelta(hours=hours)
        mute = SegmentMute(found.incident.code, named.segment, until, user, now)
        mute_id = await self.store.mutes.mute(mute)
        what = f"{named.segment.label} muted for {mute_span(hours)}"
        done = await self._change(incident_id, user, what)
        if not done.startswith("Done"):  # refused as the change was written: undo the mute
            await self.store.mutes.unmute(mute_id)
            return done
        return f"{done} `/twilio status` lists it, with a button to end it sooner."

    async def unmute_segment(self, mute_id: int, user: str) -> str:
        ended = await self.store.mutes.unmute(mute_id)
        if ended is None:
            return "That mute has already ended."
        return f"Done: {ended.code} · {ended.segment.label} is judged again from the next check."

    async def _change(self, incident_id: int, user: str, what: str, **changes: Any) -> str:
        """The button's change, decided on the incident as the writing transaction reads
        it: two clicks at once, or a cycle resolving it meanwhile, are answered as they
        land, never both done."""
        found = await self.store.incidents.record(incident_id)
        if (reason := incidents.refusal(found)) is not None:
            return reason
        assert found is not None  # refusal() says why otherwise
        now = self.clock()
        who = f"<@{user}>" if SLACK_USER_ID.fullmatch(user) else "someone"
        note = f"{utc(now)}: {what} by {who}."
        explained = await reads.explanation(self.store, self.curated, found.incident.code)
        refused = incidents.Refusal()
        saved = await self.store.incidents.apply(
            incident_id,
            lambda record: incidents.change_by_button(record, changes, note, explained, refused),
            now,
        )
        if saved is None:
            return refused.reason or "That incident is already resolved."
        return f"Done: the incident is {what}."

    async def deliver_queued(self) -> int:
        """Send what a button queued, now, from whichever process the click reached: each
        post is claimed before it goes (`outbox.claim`), so it goes once, and after what
        its incident posted before it, whichever process sends it."""
        return await self.delivery.deliver()

    async def samples(self, incident_id: int) -> list[Message]:
        """The incident's sample messages as the store holds them, newest first."""
        found = await self.store.incidents.record(incident_id)
        if found is None or found.reading is None:
            return []
        held = await self.store.messages.by_sid(found.reading.samples)
        return sorted(held, key=when, reverse=True)

    async def status(self) -> StatusReport:
        """The account and the watcher as the last cycle (in whichever process) left them,
        each watched code measured now, and the open incidents with links to them."""
        now = self.clock()
        # This process's own record when it watches: the stored one is what the last cycle
        # could write, and a failing database is exactly what keeps it from writing.
        health: Health | None = self.health
        readings: tuple[Reading, ...] = ()
        mutes: tuple[SegmentMute, ...] = ()
        open_incidents: list[Incident] = []
        links = {}
        whose: dict[int, str] = {}
        try:
            if self.health.last_finished is None:
                stored = await self.store.watcher.get(HEALTH)
                health = Health.from_json(stored) if stored else None
            status = (health.account_status if health else None) or "active"
            watched = await last_watched(self.store, self.config)
            readings = await reads.measure(
                self.store, self.config, status, now, self.histories, watched
            )
            mutes = tuple(await self.store.mutes.active(now))
            open_incidents = await self.store.incidents.open_all()
            poster = self.delivery.poster
            for incident in open_incidents:
                assert incident.id is not None  # read from the store
                found = await self.store.incidents.record(incident.id)
                if found is not None and found.reading and found.reading.subaccount:
                    whose[incident.id] = found.reading.subaccount_label
                if found is None or found.posted is None or poster is None:
                    continue
                link = await poster.permalink(found.posted.channel, found.posted.ts)
                if link:
                    links[incident.id] = link
        except StoreError as exc:
            # What the database cannot tell, left out; the status says why.
            health = replace(health or self.health, database_problem=str(exc))
        return StatusReport(
            self.config.account_sid,
            health,
            readings,
            tuple(open_incidents),
            links,
            now,
            mutes,
            whose,
        )
