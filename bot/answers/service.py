"""Service: the `Context` command handlers ask, backed by knowledge, the store and Twilio.

The one place that decides which calls one answer needs and runs them concurrently.
"""

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.adapters.twilio import TwilioApi
from bot.answers import (
    account_view,
    finding,
    knowledge,
    message_report,
    number_report,
    phone_numbers,
)
from bot.answers.account_view import AccountErrors, IncidentNote
from bot.answers.commands import IncidentAction, IncidentButton
from bot.answers.curated import Entry
from bot.answers.hygiene_report import HygieneReport
from bot.answers.knowledge import Explanation
from bot.answers.lookups import NOT_CONFIGURED, PaidLookups, shared
from bot.answers.message_report import MessageReport
from bot.answers.number_report import NumberReport
from bot.answers.phone_numbers import PhoneNumber
from bot.answers.status import StatusReport
from bot.domain import hygiene, messages
from bot.domain.messages import Message
from bot.domain.policy import STREAK_CODE, Policy
from bot.domain.spikes import SUSPENDED_CODE
from bot.domain.subaccounts import PARENT_ALONE, Choice
from bot.errors import NotConfigured, StoreError, TwilioError
from bot.store import Coverage, Store
from bot.watcher.actions import Actions

log = logging.getLogger(__name__)

ACCOUNT_WINDOW = timedelta(hours=1)
ACCOUNT_SAMPLE = 1000  # one page of the Messages list, Twilio's largest
SAMPLE_SECONDS = 30  # how long one read of the account's last hour serves every `why`
HISTORY_PAGE = 50
LOOKUP_CACHE = timedelta(days=phone_numbers.CACHE_DAYS)
CLICK_MEMORY = timedelta(days=1)


class Service:
    def __init__(
        self,
        curated: Mapping[int, Entry],
        store: Store | None,
        rules: Policy,
        twilio: TwilioApi | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        default_region: str = "US",
        lookups_per_hour: int = 30,
        alert_window: timedelta = timedelta(0),
        watcher: Actions | None = None,
        subaccounts: Choice = PARENT_ALONE,  # WATCH_SUBACCOUNTS
    ) -> None:
        self.curated = curated
        self.rules = rules
        # An incident's readings reach this far back (ALERT_WINDOW_MINUTES); 0 where no
        # watcher's incidents are read, such as the terminal without one.
        self.alert_window = alert_window
        self.store = store
        self.twilio = twilio
        self.clock = clock
        self.default_region = default_region
        self.paid = PaidLookups(store, twilio, lookups_per_hour) if store else None
        self._sample: tuple[datetime, asyncio.Future[list[Message]]] | None = None
        self.watcher = watcher  # the watcher's buttons and status, where it runs
        self.subaccounts = subaccounts

    async def explain(self, code: int) -> Explanation:
        # A curated code costs no query.
        if self.store is None or code in self.curated:
            return knowledge.explain(code, self.curated)
        try:
            imported = await self.store.dictionary.entry(code)
        except StoreError as exc:
            # The imported dictionary is out of reach: answer from what ships with the bot.
            log.warning("explaining %s without the imported dictionary: %s", code, exc)
            imported = None
        return knowledge.explain(code, self.curated, imported)

    async def explain_message(self, sid: str) -> MessageReport:
        """The message, its error explained, and the context around it.

        The fetch, the account's last hour and the recipient's history are asked for
        together when the store already knows the message (the watcher or a status
        callback saw it); otherwise the history needs the fetched recipient, so it
        follows. A failed context call leaves that part of the report out rather than
        failing the answer.
        """
        if self.twilio is None or self.store is None:
            raise NotConfigured(NOT_CONFIGURED)
        now = self.clock()
        known = await self.store.messages.by_sid([sid])
        history = asyncio.ensure_future(self._history(known[0].to, now)) if known else None
        # While the watcher keeps the store up to date, the account's hour is counted
        # there, whole; otherwise Twilio lists its latest messages.
        watched = await self.store.watcher.coverage()
        if watched is not None and not watched.covers(now - ACCOUNT_WINDOW, now):
            watched = None
        try:
            found, sampled = await asyncio.gather(
                finding.fetch(self.twilio, self.store, sid, known, self.subaccounts),
                self._account_sample(now) if watched is None else _nothing(now),
                return_exceptions=True,
            )
            if isinstance(found, BaseException):
                raise found
            if isinstance(sampled, BaseException):
                raise sampled  # a bug: a Twilio fault leaves the sample out instead
            fetched, view = found
            # A row a StatusCallback wrote may lack the recipient, and a subaccount's
            # recipient is asked of it: then ask again, of the right one.
            if history is None or known[0].to != fetched.to or view is not self.twilio:
                if history is not None:
                    history.cancel()
                history = asyncio.ensure_future(self._history(fetched.to, now, view))
            recent = await history
        finally:
            if history is not None and not history.done():
                history.cancel()
        since, account_sample = sampled
        # Of the account's hour, only what went to this recipient is kept: the rest is
        # shared by every `why` for a while, and already kept if the watcher runs.
        recent += [m for m in account_sample or [] if m.to == fetched.to]
        await self.store.messages.save([*recent, fetched])  # the fetch is the freshest word
        code = fetched.error_code
        incident: IncidentNote | None = None
        if code is not None:
            incident = account_view.incident_note(
                await self.store.incidents.on_code(code),
                code,
                messages.when(fetched),
                self.alert_window,
                suspension=code == SUSPENDED_CODE,
            )
        return message_report.build_report(
            fetched,
            await self.explain(code) if code is not None else None,
            await self.store.messages.to_number(fetched.to, now - self._streak_span),
            await self._account_errors(fetched, watched, account_sample, since, now),
            incident,
            self.rules,
            now,
        )

    async def _account_errors(
        self,
        message: Message,
        watched: Coverage | None,
        listed: list[Message] | None,
        since: datetime,
        now: datetime,
    ) -> AccountErrors | None:
        """How the message's error stands across the account: counted over the last hour
        of the watcher's records when they hold it, else over what Twilio listed. The
        counts are of outbound messages: an inbound code has none to compare with."""
        assert self.store is not None
        code = message.error_code
        if code is None or message.direction == "inbound":
            return None
        if watched is not None:
            until = min(now, watched.through)
            return account_view.account_from_counts(
                code,
                await self.store.messages.tally([code], [until - ACCOUNT_WINDOW, until]),
                await self.store.messages.failures(code, until - ACCOUNT_WINDOW, until),
                until - ACCOUNT_WINDOW,
                until,
            )
        if listed is None:
            return None
        return account_view.account_from_messages(code, listed, ACCOUNT_SAMPLE, since, now)

    @property
    def _streak_span(self) -> timedelta:
        return timedelta(days=self.rules.streak_days)

    async def _history(
        self, to: str, now: datetime, twilio: TwilioApi | None = None
    ) -> list[Message]:
        """Twilio's recent messages to `to` (in `twilio`'s account, the bot's unless
        given); none when Twilio fails, as the store may still hold some and the message
        itself is what was asked."""
        twilio = twilio or self.twilio
        assert twilio is not None
        try:
            return await twilio.list_messages(
                to=to, sent_after=now - self._streak_span, page_size=HISTORY_PAGE
            )
        except TwilioError as exc:
            log.warning("recipient history unavailable: %s", exc)
            return []

    async def _account_sample(self, now: datetime) -> tuple[datetime, list[Message] | None]:
        """The account's last hour (one page of it) and where it starts, shared by every
        `why` asked within SAMPLE_SECONDS: a burst of 200 would otherwise read 200 000
        messages (bench/commands.py). None when Twilio failed; a failure is not kept."""
        assert self.twilio is not None
        held = self._sample
        stale = held is None or (now - held[0]).total_seconds() >= SAMPLE_SECONDS
        if held is None or stale or _failed(held[1]):
            call = self.twilio.list_messages(
                sent_after=now - ACCOUNT_WINDOW, page_size=ACCOUNT_SAMPLE
            )
            held = self._sample = (now, shared(call))
        try:
            return held[0] - ACCOUNT_WINDOW, await asyncio.shield(held[1])
        except TwilioError as exc:
            log.warning("the account's last hour is unavailable: %s", exc)
            return held[0] - ACCOUNT_WINDOW, None

    async def look_up(self, number: PhoneNumber, asker: str | None) -> NumberReport:
        """What Lookup says of `number`, from the cache when it is fresh, with our messages to it.

        A paid lookup counts against `asker` (a Slack user ID), and is taken back when Twilio
        fails. None is the terminal, where whoever holds the credentials is not limited.
        """
        if self.store is None or self.paid is None:
            raise NotConfigured(NOT_CONFIGURED)
        now = self.clock()
        found = await self.paid.answer(number.e164, asker, now, now - LOOKUP_CACHE)
        history = await self.store.messages.to_number(
            number.e164, now - number_report.HISTORY_WINDOW, limit=number_report.HISTORY_LIMIT
        )
        return number_report.build_report(
            number, found.lookup, found.at, found.cached, history, self.rules, now
        )

    async def hygiene(self, full: bool, as_csv: bool) -> HygieneReport:
        """The hygiene lists from every message the store holds."""
        if self.store is None:
            raise NotConfigured(
                "The hygiene lists come from the bot's database, which this process has not opened."
            )
        now = self.clock()
        since = await self.store.messages.earliest_moment() or now
        found = await self.store.messages.hygiene(hygiene.CODES, STREAK_CODE, since)
        assessed = hygiene.assess(found, self.rules, since, now)
        listed = {e.code for e in (*assessed.definitive, *assessed.suspect)}
        titles = {code: knowledge.explain(code, self.curated).title for code in listed}
        return HygieneReport(assessed, titles, self.rules, full, as_csv)

    async def status(self) -> StatusReport:
        if self.watcher is None:
            raise NotConfigured(
                "The watcher is not set up here: set SLACK_ALERT_CHANNEL (with SLACK_BOT_TOKEN "
                "and the Twilio settings) to watch the account."
            )
        return await self.watcher.status()

    async def first_click(self, key: str) -> bool:
        """Whether a button click is new: a replay of one already handled has no effect.
        Clicks are remembered for a day; Slack's own retries come within seconds."""
        if self.store is None:
            return True
        now = self.clock()
        return await self.store.incidents.first_click(key, now, now - CLICK_MEMORY)

    async def deliver_changes(self) -> None:
        """Send what an incident button queued, when this process is the watcher."""
        if self.watcher is not None:
            await self.watcher.deliver_queued()

    async def incident_action(self, action: IncidentAction, incident_id: str, user: str) -> str:
        """What an incident's button asked for, on the incident it carries."""
        if self.watcher is None:
            return "The watcher is not running in this process, so incidents cannot change."
        if not re.fullmatch(r"[0-9]{1,12}", incident_id):
            return "That button no longer carries a valid incident or mute."
        if action.button == IncidentButton.ACK:
            return await self.watcher.acknowledge(int(incident_id), user)
        if action.button == IncidentButton.MUTE:
            return await self.watcher.mute(int(incident_id), user, action.hours)
        if action.button == IncidentButton.MUTE_SEGMENT:
            return await self.watcher.mute_segment(int(incident_id), user, action.hours)
        if action.button == IncidentButton.UNMUTE_SEGMENT:
            return await self.watcher.unmute_segment(int(incident_id), user)
        found = await self.watcher.samples(int(incident_id))
        if not found:
            return "The samples of that incident are no longer in the bot's database."
        lines = [f"{m.sid} · to {m.to} · {messages.describe(m)}" for m in found]
        return "\n".join(["Samples:", *lines, "`/twilio why <SID>` explains one."])


async def _nothing(now: datetime) -> tuple[datetime, list[Message] | None]:
    return now, None


def _failed(running: "asyncio.Future[Any]") -> bool:
    return running.done() and (running.cancelled() or running.exception() is not None)
