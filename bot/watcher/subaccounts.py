"""Subaccounts: with WATCH_SUBACCOUNTS, each cycle lists the parent's subaccounts (one
request for up to a thousand, with the parent's credentials) and reads the Messages list
of those `domain.subaccounts.due` picks: every one with recent traffic, a tenth of the
quiet ones (at most QUIET_MOST). What the watcher knows of each (its newest message, when
it was read, when it was last seen not active, where a reading back goes on) is one value
in the store, so a restart or another replica goes on from it.

A subaccount's walk reads what is new since its newest message (less an overlap) and
the settle window again, at most `max_pages` pages; when there was more, the rest is read
back over the next cycles, `backfill_pages` a cycle, as the parent's history is.
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
from bot.errors import BotError, NotFound, StoreError, TwilioRejected
from bot.store import Store
from bot.watcher.config import WatcherConfig
from bot.watcher.health import Health
from bot.watcher.ingest import OVERLAP, Stretch

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
        if not config.subaccounts:
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
        watched = subaccounts.watched(found, config.subaccounts)
        tuning = config.tuning
        due = subaccounts.due(watched, config.settle, now, tuning.quiet_rounds, tuning.quiet_most)
        gate = asyncio.Semaphore(CONCURRENT_READS)
        results = await asyncio.gather(*[self._read_one(s, now, gate) for s in due])
        fresh = {s.sid: s for s, _, _ in results}
        watched = [fresh.get(s.sid, s) for s in watched]
        kept = {s.sid: fresh.get(s.sid, s) for s in found}
        await self.store.watcher.put(STATE, _encoded(kept))
        health = self.health
        health.subaccounts_watched = len(watched)
        health.subaccounts_inactive = [s.label for s in watched if s.status != "active"]
        health.subaccounts_read = len(due)
        health.subaccounts_failed = [s.label for s, _, failed in results if failed]
        health.subaccounts_reading_back = sum(s.reading_back is not None for s in watched)
        return Round(tuple(watched), read=sum(n for _, n, _ in results))

    async def _read_one(
        self, sub: Subaccount, now: datetime, gate: asyncio.Semaphore
    ) -> tuple[Subaccount, int, bool]:
        """One subaccount's new messages (and settle window), stored, then a slice more
        of what an earlier walk left, if one did; the subaccount with its marks moved
        on, how many messages, and whether Twilio failed it. A failure leaves its marks
        where they were: the next cycle reads the same span again."""
        config, tuning = self.config, self.config.tuning
        floor = now - min(config.backfill, config.retention)
        since = floor if sub.newest is None else sub.newest - OVERLAP
        since = max(floor, min(since, now - config.settle))
        view = self._views.get(sub.sid)
        if view is None:
            view = self._views[sub.sid] = self.twilio.for_account(sub.sid)
        async with gate:
            try:
                head = await self._walk(view, sub.sid, since, None, tuning.max_pages)
            except StoreError:
                raise
            except BotError as exc:
                log.warning("subaccount %s not read this cycle: %s", sub.sid, exc)
                return sub, 0, True
            read, newest = head.read, max(filter(None, (head.newest, sub.newest)), default=None)
            back, back_to = sub.reading_back, sub.back_to
            if head.rest is not None:
                # More than a walk: the older ones are read over the next cycles.
                if back is not None:
                    log.warning("subaccount %s: reading back to %s given up", sub.sid, back_to)
                back, back_to = head.rest, since
            elif back is not None and back_to is not None:
                try:
                    tail = await self._walk(
                        view, sub.sid, max(back_to, floor), back, tuning.backfill_pages
                    )
                    read += tail.read
                    back = tail.rest
                except StoreError:
                    raise
                except (NotFound, TwilioRejected) as exc:  # the page it named is gone
                    log.warning("subaccount %s: reading back given up: %s", sub.sid, exc)
                    back = None
                except BotError as exc:
                    log.warning("subaccount %s: reading back waits: %s", sub.sid, exc)
        if back is None:
            back_to = None
        moved = replace(sub, newest=newest, read_at=now, reading_back=back, back_to=back_to)
        return moved, read, False

    async def _walk(
        self, view: TwilioApi, sid: str, since: datetime, resume: str | None, pages: int
    ) -> Stretch:
        """Messages created from `since` on, newest first, at most `pages` pages (from
        `resume`, a next-page URI, if given), stored as they come, as `sid`'s."""
        batch: list[Message] = []
        read = 0
        newest: datetime | None = None
        size = self.config.tuning.save_batch

        async def keep(page: list[Message]) -> None:
            nonlocal read, newest
            found = [m for m in page if m.date_created is None or m.date_created >= since]
            # A subaccount's list gives its own messages, whatever a record says.
            batch.extend(replace(m, account_sid=sid) for m in found)
            read += len(found)
            moments = [m.date_created for m in found if m.date_created is not None]
            newest = max([*moments, *([newest] if newest else [])], default=None)
            if len(batch) >= size:
                await self.store.messages.save(batch)
                batch.clear()

        walk = await view.read_messages(
            keep,
            created_after=since,
            page_size=self.config.tuning.page_size,
            max_pages=pages,
            resume=resume,
        )
        await self.store.messages.save(batch)
        return Stretch(read, newest, None, walk.rest, walk.whole)


async def last_watched(store: Store, config: WatcherConfig) -> tuple[Subaccount, ...]:
    """The subaccounts watched as the last cycle left them (for `status`)."""
    if not config.subaccounts:
        return ()
    held = decoded(await store.watcher.get(STATE)).values()
    return tuple(subaccounts.watched(held, config.subaccounts))


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
                "reading_back": s.reading_back,
                "back_to": moment(s.back_to),
            }
            for sid, s in kept.items()
        }
    )


def decoded(text: str | None) -> dict[str, Subaccount]:
    """The subaccounts as `_encoded` wrote them; none (read afresh) when the value is
    not what it wrote: a bad value must not stop every cycle."""
    if not text:
        return {}
    try:
        return _decoded(json.loads(text))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        log.warning("the subaccounts' stored state is unreadable, read afresh: %s", exc)
        return {}


def _decoded(values: dict[str, dict[str, Any]]) -> dict[str, Subaccount]:
    def moment(value: str | None) -> datetime | None:
        found = datetime.fromisoformat(value) if value else None
        if found is not None and found.tzinfo is None:
            raise ValueError(f"a time without its zone: {value}")
        return found

    return {
        sid: Subaccount(
            sid,
            v.get("name", ""),
            v.get("status", "active"),
            newest=moment(v.get("newest")),
            read_at=moment(v.get("read_at")),
            inactive_at=moment(v.get("inactive_at")),
            reading_back=v.get("reading_back"),
            back_to=moment(v.get("back_to")),
        )
        for sid, v in values.items()
    }
