"""Delivery: the outbox to the alert channel, and what each Slack failure means.

Oldest first; a post that did not go holds back what belongs to the same incident, so
nothing overtakes the message it edits or replies to. An outage waits however long it
lasts; a setup Slack refuses (a wrong channel, a revoked token) waits for a person; a post
Slack refuses by itself is tried again up to MAX_REFUSALS times.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.domain.alerting import SlackMessage
from bot.errors import SlackMisconfigured, SlackRejected, SlackUnavailable, StoreError
from bot.store import PostKind, Store
from bot.watcher.health import Health

log = logging.getLogger(__name__)


class Poster(Protocol):
    """The alert channel as the watcher needs it (the real one: adapters.slack.poster)."""

    async def post(
        self, channel: str, text: str, blocks: list[Any], thread_ts: str | None = None
    ) -> SlackMessage: ...

    async def update(self, channel: str, ts: str, text: str, blocks: list[Any]) -> None: ...

    async def permalink(self, channel: str, ts: str) -> str | None: ...


@dataclass
class SlackTrouble:
    """What the last delivery met, for health."""

    error: str | None = None  # the last failure, as the log said it
    problem: str | None = None  # what a person must fix before Slack takes posts
    outage: bool = False  # Slack failed or was not Slack


class Delivery:
    def __init__(
        self,
        store: Store,
        poster: Poster | None,
        alert_channel: str,
        health: Health,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.clock = clock  # each claim and record at its own moment, not the cycle's start
        self.poster = poster  # None: nothing to send with; what is queued waits
        self.alert_channel = alert_channel
        self.trouble = SlackTrouble()
        self.health = health  # what health says already, to tell a known problem
        self._sending = asyncio.Lock()  # a button and a cycle must not send the same post
        # Posts Slack took whose record the database refused: (id, when, where it is).
        self._unrecorded: list[tuple[int, datetime, SlackMessage | None]] = []

    async def deliver(self, fence: int | None = None) -> int:
        """Send what the outbox holds; returns how many went. The watcher passes its
        lease token (`fence`): once the lease has passed to another, it sends nothing."""
        async with self._sending:
            await self._record_unrecorded()
            return await self._deliver(fence)

    async def _record_unrecorded(self) -> None:
        """What Slack took while the database could not record it, recorded first: its
        claim would otherwise lapse and the post go again."""
        while self._unrecorded:
            post_id, at, posted = self._unrecorded[0]
            await self.store.outbox.mark_sent(post_id, at, posted)
            self._unrecorded.pop(0)

    def start_cycle(self) -> None:
        """Forget what the last cycle met."""
        self.trouble = SlackTrouble()

    async def _deliver(self, fence: int | None) -> int:
        if self.poster is None:
            return 0
        sent = 0
        held: set[int] = set()  # incidents with a post that did not go: nothing overtakes it
        blocked: set[str] = set()  # channels Slack refuses until someone fixes the setup
        for listed in await self.store.outbox.pending():
            if listed.incident_id in held:
                continue
            # A new alert goes where the setting says now: it may have been corrected.
            channel, ts = self.alert_channel, ""
            if listed.kind != PostKind.POST:
                found = await self.store.incidents.record(listed.incident_id)
                if found is None or found.posted is None:
                    held.add(listed.incident_id)  # its message has not gone yet
                    continue
                channel, ts = found.posted.channel, found.posted.ts
            if channel in blocked:
                held.add(listed.incident_id)
                continue
            # While an earlier post waited on Slack, a button may have changed this one,
            # or another process may have sent it, or be sending one of its incident's.
            post = await self.store.outbox.claim(listed.id, self.clock(), fence)
            if post is None:
                held.add(listed.incident_id)  # what follows it waits for the next round
                continue
            try:
                posted = None
                if post.kind == PostKind.POST:
                    posted = await self.poster.post(channel, post.text, post.blocks)
                elif post.kind == PostKind.UPDATE:
                    await self.poster.update(channel, ts, post.text, post.blocks)
                else:
                    await self.poster.post(channel, post.text, post.blocks, thread_ts=ts)
                await self._mark_sent(post.id, posted)
            except SlackUnavailable as exc:
                await self.store.outbox.mark_failed(
                    post.id, str(exc), refused=False, claim=post.claim
                )
                log.warning("Slack post %s held for the next cycle: %s", post.id, exc)
                self.trouble.error = f"Slack: {exc}"
                self.trouble.outage = True
                break  # Slack is down or limiting: the rest would fare no better
            except SlackMisconfigured as exc:
                # Not the post's fault: it waits, however long, for the fix. But only the
                # token and the alert channel can be fixed; an older alert's channel, gone
                # or closed, refuses its edits and notes like any post, up to the limit.
                fixable = exc.channel in (None, self.alert_channel)
                await self.store.outbox.mark_failed(
                    post.id, str(exc), refused=not fixable, claim=post.claim
                )
                if fixable:
                    self._setup_problem(exc)
                else:
                    log.warning("Slack refused post %s: %s", post.id, exc)
                    self.trouble.error = f"Slack: {exc}"
                if exc.channel is None:
                    break  # the token itself: every other post would be refused too
                blocked.add(exc.channel)
                held.add(post.incident_id)
                continue
            except SlackRejected as exc:
                # Slack said no to this one (a deleted message, bad blocks): try again
                # next cycle, up to a limit, but let others through.
                await self.store.outbox.mark_failed(
                    post.id, str(exc), refused=True, claim=post.claim
                )
                log.warning("Slack refused post %s: %s", post.id, exc)
                self.trouble.error = f"Slack: {exc}"
                held.add(post.incident_id)
                continue
            sent += 1
        return sent

    async def _mark_sent(self, post_id: int, posted: SlackMessage | None) -> None:
        at = self.clock()
        try:
            await self.store.outbox.mark_sent(post_id, at, posted)
        except StoreError:
            self._unrecorded.append((post_id, at, posted))
            raise

    def _setup_problem(self, exc: SlackMisconfigured) -> None:
        # Loud the first time; the same problem again next cycle is only a warning.
        level = logging.WARNING if exc.fix == self.health.slack_problem else logging.ERROR
        log.log(level, "%s; posts are held until someone acts. %s", exc, exc.fix)
        self.trouble.error = f"Slack: {exc}"
        self.trouble.problem = exc.fix
