"""Registrations: the account's brands, campaigns and toll-free verifications, read
every REGISTRATION_CHECK_MINUTES (at once when Event Streams says one changed), and a
post to the alert channel for each change `domain.registrations.changes` picks.

Each status is kept in the watcher's state once the team has heard of it (or it needed
no post), so a restart does not post it again; Slack or Twilio failing leaves the change
for the next read, a few minutes on (a crash between the post and the record can post
it twice, as for an alert; it is never lost).
"""

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.adapters.twilio import TwilioApi
from bot.adapters.twilio.registrations import TwilioRegistrations
from bot.answers import knowledge
from bot.answers.curated import Entry
from bot.answers.registration_report import RegistrationReport
from bot.domain.registrations import BLOCKED_CODE, changes
from bot.errors import SlackError, TwilioError
from bot.render.blocks import document, fallback
from bot.store import Store
from bot.store.encoding import (
    REGISTRATIONS_CHECKED,
    REGISTRATIONS_EVENT,
    REGISTRATIONS_TRIED,
    iso,
)
from bot.watcher.config import WatcherConfig
from bot.watcher.delivery import Poster

log = logging.getLogger(__name__)

HELD = "registration:"  # + SID: the status the team last heard of
RETRY_GAP = timedelta(minutes=2)  # between two tries, whatever asks for one


class RegistrationWatch:
    def __init__(
        self,
        store: Store,
        twilio: TwilioApi,
        poster: Poster | None,
        config: WatcherConfig,
        curated: Mapping[int, Entry],
    ) -> None:
        self.store = store
        self.twilio = twilio
        self.poster = poster
        self.config = config
        self.curated = curated

    async def check_if_due(self, now: datetime) -> int:
        """Read the registrations if due, and post what changed; how many posts went."""
        if self.poster is None or not self.config.alert_channel or not await self._due(now):
            return 0
        await self.store.watcher.put(REGISTRATIONS_TRIED, iso(now))
        try:
            found = await TwilioRegistrations(self.twilio).all()
        except TwilioError as exc:
            log.warning("registrations not read; tried again in a few minutes: %s", exc)
            return 0
        held = {}
        for registration in found:
            status = await self.store.watcher.get(HELD + registration.sid)
            if status is not None:
                held[registration.sid] = status.upper()
        posted = 0
        for change in changes(held, found):
            registration = change.registration
            code = BLOCKED_CODE[registration.kind]
            report = RegistrationReport(change, knowledge.explain(code, self.curated).title)
            try:
                await self.poster.post(
                    self.config.alert_channel,
                    fallback(report.heading),
                    document(report.heading, report.facts(), report.sections()),
                )
            except SlackError as exc:
                log.warning("a registration's change waits for the next read: %s", exc)
                return posted
            await self.store.watcher.put(HELD + registration.sid, registration.status.upper())
            posted += 1
        for registration in found:  # what needed no post: kept quietly
            if held.get(registration.sid) != registration.status.upper():
                await self.store.watcher.put(HELD + registration.sid, registration.status.upper())
        await self.store.watcher.put(REGISTRATIONS_CHECKED, iso(now))
        return posted

    async def _due(self, now: datetime) -> bool:
        """Every REGISTRATION_CHECK_MINUTES, or after a registration event since the last
        read; never sooner than RETRY_GAP after the last try, so a Slack or Twilio outage
        or a burst of events does not read every service's campaigns every cycle. A time
        kept from the future (the clock stepped back) counts as long ago, not as a wait
        that would last until the clock caught up."""
        tried = await self.store.watcher.get(REGISTRATIONS_TRIED)
        gap = min(RETRY_GAP, self.config.registration_check)
        if tried and timedelta(0) <= now - datetime.fromisoformat(tried) < gap:
            return False
        checked = await self.store.watcher.get(REGISTRATIONS_CHECKED)
        if not checked or datetime.fromisoformat(checked) > now:
            return True
        last = datetime.fromisoformat(checked)
        event = await self.store.watcher.get(REGISTRATIONS_EVENT)
        changed = event is not None and datetime.fromisoformat(event) > last
        return changed or now - last >= self.config.registration_check
