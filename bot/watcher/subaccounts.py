"""Subaccounts: with WATCH_SUBACCOUNTS, each cycle lists the parent's subaccounts (one
request for up to a thousand, with the parent's credentials) and reads the Messages list
of those `domain.subaccounts.due` picks: every one with recent traffic, a tenth of the
quiet ones. What the watcher knows of each (its newest message, when it was read, when
it was last seen not active) is one value in the store, so a restart or another replica
goes on from it.

A subaccount's walk reads what is new since its newest message (less an overlap) and
the settle window again, at most `max_pages` pages; unlike the parent's, it does not
read back further history over later cycles.
"""

import asyncio
import json
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bot.adapters.twilio import TwilioApi
from bot.adapters.twilio.accounts import subaccounts as list_subaccounts
from bot.domain import subaccounts
from bot.domain.messages import Message
from bot.domain.subaccounts import Subaccount
from bot.errors import BotError, StoreError
from bot.store import Store
from bot.watcher.config import WatcherConfig
from bot.watcher.health import Health
from bot.watcher.ingest import OVERLAP

log = logging.getLogger(__name__)

STATE = "subaccounts"  # the watcher's store key: each subaccount as last seen, JSON
CONCURRENT_READS = 8  # subaccounts' Messages lists read at once


@dataclass(frozen=True)
class Round:
    """A cycle's subaccounts: those watched (as listed now, or as last listed when the
    list failed), and the messages read from those due."""

    watched: tuple[Subaccount, ...]
    read: int = 0


class SubaccountWatch:
    def __init__(
        self, config: WatcherConfig, store: Store, twilio: TwilioApi, health: Health
    ) -> None:
        self.config = config
        self.store = store
        self.twilio = twilio
        self.health = health
        self._views: dict[str, TwilioApi] = {}  # a client per subaccount, made once

    async def read(self, now: datetime) -> Round:
        """List the subaccounts, read those due; nothing when none are watched."""
        config = self.config
        if not config.watches_subaccounts:
            return Round(())
        held = decoded(await self.store.watcher.get(STATE))
        try:
            listed = [
                Subaccount(a.sid, a.friendly_name, a.status.lower())
                for a in await list_subaccounts(self.twilio)
            ]
            self.health.subaccounts_problem = None
        except StoreError:
            raise
        except BotError as exc:
            log.warning("the subaccounts could not be listed; the last list stands: %s", exc)
            self.health.subaccounts_problem = str(exc)
            listed = list(held.values())
        found = subaccounts.merged(listed, held)
        found = [replace(s, inactive_at=now) if s.status != "active" else s for s in found]
        watched = subaccounts.watched(found, config.subaccounts_all, config.subaccounts)
        due = subaccounts.due(watched, config.settle, now)
        gate = asyncio.Semaphore(CONCURRENT_READS)
        results = await asyncio.gather(*[self._read_one(s, now, gate) for s in due])
        fresh = {s.sid: s for s, _ in results}
        watched = [fresh.get(s.sid, s) for s in watched]
        kept = {s.sid: fresh.get(s.sid, s) for s in found}
        await self.store.watcher.put(STATE, _encoded(kept))
        health = self.health
        health.subaccounts_watched = len(watched)
        health.subaccounts_inactive = [s.label for s in watched if s.status != "active"]
        health.subaccounts_read = len(due)
        return Round(tuple(watched), read=sum(n for _, n in results))

    async def _read_one(
        self, sub: Subaccount, now: datetime, gate: asyncio.Semaphore
    ) -> tuple[Subaccount, int]:
        """One subaccount's new messages (and settle window), stored; the subaccount with
        its marks moved on, and how many messages. A failure leaves its marks
        where they were: the next cycle reads the same span again."""
        config, tuning = self.config, self.config.tuning
        floor = now - min(config.backfill, config.retention)
        since = floor if sub.newest is None else sub.newest - OVERLAP
        since = max(floor, min(since, now - config.settle))
        found: list[Message] = []

        async def keep(page: list[Message]) -> None:
            found.extend(m for m in page if m.date_created is None or m.date_created >= since)

        view = self._views.get(sub.sid)
        if view is None:
            view = self._views[sub.sid] = self.twilio.for_account(sub.sid)
        async with gate:
            try:
                walk = await view.read_messages(
                    keep,
                    created_after=since,
                    page_size=tuning.page_size,
                    max_pages=tuning.max_pages,
                )
            except BotError as exc:
                log.warning("subaccount %s not read this cycle: %s", sub.sid, exc)
                return sub, 0
        # Messages a subaccount's list gives are that subaccount's, whatever a record says.
        for start in range(0, len(found), tuning.save_batch):
            batch = found[start : start + tuning.save_batch]
            await self.store.messages.save([replace(m, account_sid=sub.sid) for m in batch])
        if walk.rest is not None:
            log.warning("subaccount %s: more than %d messages since %s", sub.sid, len(found), since)
        moments = [m.date_created for m in found if m.date_created is not None]
        newest = max([*moments, *([sub.newest] if sub.newest else [])], default=None)
        return replace(sub, newest=newest, read_at=now), len(found)


async def last_watched(store: Store, config: WatcherConfig) -> tuple[Subaccount, ...]:
    """The subaccounts watched as the last cycle left them (for `status`)."""
    if not config.watches_subaccounts:
        return ()
    held = decoded(await store.watcher.get(STATE)).values()
    return tuple(subaccounts.watched(held, config.subaccounts_all, config.subaccounts))


def _encoded(kept: dict[str, Subaccount]) -> str:
    def moment(value: datetime | None) -> str | None:
        return value.astimezone(UTC).isoformat() if value else None

    return json.dumps(
        {
            sid: {
                "name": s.name,
                "status": s.status,
                "newest": moment(s.newest),
                "read_at": moment(s.read_at),
                "inactive_at": moment(s.inactive_at),
            }
            for sid, s in kept.items()
        }
    )


def decoded(text: str | None) -> dict[str, Subaccount]:
    if not text:
        return {}
    values: dict[str, dict[str, Any]] = json.loads(text)

    def moment(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return {
        sid: Subaccount(
            sid,
            v.get("name", ""),
            v.get("status", "active"),
            newest=moment(v.get("newest")),
            read_at=moment(v.get("read_at")),
            inactive_at=moment(v.get("inactive_at")),
        )
        for sid, v in values.items()
    }
