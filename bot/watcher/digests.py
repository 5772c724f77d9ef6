"""Digests: the day before, posted once to the alert channel at DIGEST_TIME.

The I/O around `answers.digest`: the hours the digest reads are counted into the rollup
first, a cycle's budget at a time, and the day is marked posted in the database once
Slack has taken it, so a restart does not post it again (a crash between the two can, as
for an alert; never lose it). Slack failing leaves it for the next cycle.
"""

import logging
from collections.abc import Mapping
from datetime import date, datetime, timedelta

from bot.answers import digest, knowledge
from bot.answers.curated import Entry
from bot.answers.digest import DAY, Digest, DigestIncident
from bot.domain import hygiene
from bot.domain.alerting import Incident
from bot.domain.policy import STREAK_CODE
from bot.domain.privacy import mask_numbers_in
from bot.errors import SlackError
from bot.render.blocks import document, fallback
from bot.store import Store
from bot.store.counting import HOUR
from bot.watcher.config import WatcherConfig
from bot.watcher.delivery import Poster

log = logging.getLogger(__name__)

POSTED = "posted"
BEFORE = timedelta(days=7)  # the days the digest compares the day with


class Digests:
    def __init__(
        self,
        store: Store,
        poster: Poster | None,
        config: WatcherConfig,
        curated: Mapping[int, Entry],
    ) -> None:
        self.store = store
        self.poster = poster
        self.config = config
        self.curated = curated

    async def post_if_due(self, now: datetime) -> bool:
        """Post the day before's digest if it is due and not posted yet; whether it was."""
        day = digest.due_day(now, self.config.digest_time)
        if day is None or self.poster is None or not self.config.alert_channel:
            return False
        key = f"digest:{day.isoformat()}"
        if await self.store.watcher.get(key) == POSTED:
            return False
        made = await self._digest(day, now)
        if made is None:
            return False  # its hours are still being counted: a later cycle posts it
        try:
            await self.poster.post(
                self.config.alert_channel,
                fallback(made.heading),
                document(made.heading, made.facts(), made.sections()),
            )
        except SlackError as exc:
            log.warning("the daily digest waits for the next cycle: %s", exc)
            return False
        await self.store.watcher.put(key, POSTED)
        return True

    async def _digest(self, day: date, now: datetime) -> Digest | None:
        start = digest.start_of(day)
        end = start + DAY
        # The days before, as far as retention keeps them whole: its hours are forgotten.
        kept = (now - self.config.retention).replace(minute=0, second=0, microsecond=0) + HOUR
        before = max(start - BEFORE, kept)
        budget = self.config.tuning.baseline_seconds_per_cycle
        counted = await self.store.messages.baseline(0, min(before, start), end, budget)
        if counted.hours is not None:
            return None
        incidents = await self.store.incidents.during(start, end)
        since = await self.store.messages.earliest_moment() or now
        outcomes = await self.store.messages.hygiene(hygiene.CODES, STREAK_CODE, since)
        counts = await self.store.messages.account_totals(start, end)
        held = await self.store.watcher.coverage()
        read_from = held.since if held is not None and held.since > start else None
        return Digest(
            day=day,
            counts=counts,
            before=await self.store.messages.account_totals(before, start),
            days_before=max(0.0, (start - before) / DAY),
            incidents=tuple([DigestIncident(i, await self._name(i)) for i in incidents]),
            hygiene=hygiene.assess(outcomes, self.config.policy, since, now),
            read_from=read_from,
            titles={
                code: knowledge.explain(code, self.curated).title for code in counts if code > 0
            },
        )

    async def _name(self, incident: Incident) -> str:
        """The incident as its alert named it: its segment's, or its code and title."""
        assert incident.id is not None  # read from the store
        found = await self.store.incidents.record(incident.id)
        reading = found.reading if found is not None else None
        named = reading.named if reading else None
        # A friendly name is anyone's text, and the digest is posted to the channel.
        label = mask_numbers_in(reading.subaccount_label) if reading else ""
        whose = f" · {label}" if label else ""
        if named is not None:
            return f"{incident.code} · {named.segment.label}{whose}"
        title = knowledge.explain(incident.code, self.curated).title
        return f"{incident.code} {title}".strip() + whose
