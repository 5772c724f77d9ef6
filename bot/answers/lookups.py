"""Paid lookups: Twilio Lookup asked once per number at a time, and counted against the
asker's hourly allowance (LOOKUPS_PER_USER_PER_HOUR), taken back when Twilio fails."""

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from bot.adapters.twilio import TwilioApi
from bot.answers.phone_numbers import Lookup
from bot.errors import LimitReached, NotConfigured
from bot.store import Store

T = TypeVar("T")

LOOKUP_LIMIT_WINDOW = timedelta(hours=1)
NOT_CONFIGURED = (
    "Twilio is not configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN "
    "(or TWILIO_API_KEY and TWILIO_API_SECRET)."
)


@dataclass(frozen=True)
class Answered:
    lookup: Lookup
    at: datetime  # when Twilio answered
    cached: bool  # from the cache, not asked for now


class PaidLookups:
    def __init__(self, store: Store, twilio: TwilioApi | None, per_hour: int) -> None:
        self.store = store
        self.twilio = twilio
        self.per_hour = per_hour
        self._running: dict[str, asyncio.Future[Lookup]] = {}
        self._registering = asyncio.Lock()

    async def answer(
        self, e164: str, asker: str | None, now: datetime, fresh_since: datetime
    ) -> Answered:
        """What Lookup says of `e164`: the cache's answer when it is from `fresh_since` on,
        else Twilio's, asked once. A second ask for the number while the first is on its
        way (a double click) waits for that answer and costs nothing; the call is over only
        once its answer is in the cache, so a later ask finds it there."""
        if (cached := await self.store.lookups.cached(e164, fresh_since)) is not None:
            return Answered(cached.lookup, cached.at, cached=True)
        if self.twilio is None:
            raise NotConfigured(NOT_CONFIGURED)
        # Counting and registering the call happen one ask at a time: a second ask for
        # the number, made while the first is counted, finds the call and waits for it.
        use: int | None = None
        async with self._registering:
            running = self._running.get(e164)
            mine = running is None  # else the first ask pays, and this one waits for it
            if running is None:
                # One that ended while this ask waited for its turn left its answer here.
                if (cached := await self.store.lookups.cached(e164, fresh_since)) is not None:
                    return Answered(cached.lookup, cached.at, cached=True)
                use = await self._count(asker, now) if asker is not None else None
                running = shared(self._ask_and_keep(self.twilio, e164, now))
                self._running[e164] = running
        if not mine:
            return Answered(await asyncio.shield(running), now, cached=False)
        try:
            return Answered(await asyncio.shield(running), now, cached=False)
        except BaseException:
            if use is not None:
                await self.store.lookups.remove_use(use)  # no answer, so no charge
            raise
        finally:
            del self._running[e164]

    async def _ask_and_keep(self, twilio: TwilioApi, e164: str, now: datetime) -> Lookup:
        lookup = await twilio.lookup(e164)
        # Kept under the number we asked for, so the next ask finds it whatever form
        # Twilio wrote it in; a failed line type check is not kept for a week.
        if lookup.line_type_error is None:
            await self.store.lookups.save(replace(lookup, phone_number=e164), now)
        return lookup

    async def _count(self, asker: str, now: datetime) -> int:
        """Record one paid lookup for `asker`, or raise LimitReached."""
        since = now - LOOKUP_LIMIT_WINDOW
        if self.per_hour == 0:
            raise LimitReached(
                "Paid lookups are turned off here (LOOKUPS_PER_USER_PER_HOUR is 0); only "
                "numbers looked up in the last 7 days can be answered, from the cache."
            )
        for _ in range(2):  # once more if a use was taken back between the two reads
            use = await self.store.lookups.add_use(
                asker, now, forget_before=since, limit=self.per_hour
            )
            if use is not None:
                return use
            used = await self.store.lookups.uses(asker, since)
            if len(used) >= self.per_hour:
                frees = used[-self.per_hour] + LOOKUP_LIMIT_WINDOW
                minutes = max(1, -(-int((frees - now).total_seconds()) // 60))
                raise LimitReached(
                    f"You have used your {self.per_hour} paid lookups for this hour. The "
                    f"next one frees up at {frees.astimezone(UTC):%H:%M} UTC, in {minutes} "
                    "min. Numbers looked up in the last 7 days still answer, from the cache."
                )
        raise LimitReached(
            f"You have used your {self.per_hour} paid lookups for this hour; try again in "
            "a minute. Numbers looked up in the last 7 days still answer, from the cache."
        )


def shared(call: Awaitable[T]) -> "asyncio.Future[T]":
    """A call several askers may await (each through `asyncio.shield`). Its outcome is read
    even when every asker has gone, so asyncio has nothing to report."""
    running = asyncio.ensure_future(call)
    running.add_done_callback(lambda done: done.cancelled() or done.exception())
    return running
