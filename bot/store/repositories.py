"""Repositories: what the bot keeps, as the rest of the code sees it.

Every method is a coroutine, so a backend does its work off the event loop (the SQLite
one on its own threads, the PostgreSQL one on asyncio sockets) and nothing waiting on the
database can hold up an ack. One protocol per concern; a backend is one package under
`bot.store` that provides all of them. The values that cross this seam are in `values`.
"""

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from bot.answers.dictionary import ImportedEntry
from bot.answers.phone_numbers import Lookup
from bot.domain.alerting import Incident, SlackMessage
from bot.domain.failures import Failures
from bot.domain.hygiene import Record
from bot.domain.messages import Message
from bot.domain.reports import Report
from bot.domain.segments import History, Segment
from bot.domain.spikes import Baseline, Count
from bot.domain.traffic import Traffic
from bot.store.values import (
    CachedLookup,
    Change,
    Coverage,
    IncidentRecord,
    Outgoing,
    Recorded,
    SegmentMute,
)


class DictionaryRepository(Protocol):
    async def save(self, entries: Iterable[ImportedEntry]) -> int:
        """Store entries; one held with a newer `last_updated` is kept. Returns how many
        rows were written."""
        ...

    async def entry(self, code: int) -> ImportedEntry | None: ...

    async def size(self) -> int: ...


class MessageRepository(Protocol):
    async def save(self, messages: Sequence[Message]) -> int:
        """Upsert by SID: a message seen twice, or with a later status, is one row. A
        final status held is kept over one that is not (the list was read before a report
        arrived). Returns how many final statuses the store did not hold: with the stream
        on, what it missed."""
        ...

    async def record_reports(self, reports: Sequence[Report], received: datetime) -> Recorded:
        """A batch of pushed status changes, in one transaction: an event id already
        stored is skipped; each message takes the change `reports.settled` picks; a
        message not held is stored with what the events tell of it."""
        ...

    async def last_report(self) -> datetime | None:
        """When the newest event stored was received, or None."""
        ...

    async def forget_reports(self, before: datetime) -> int:
        """Event ids received before `before` are forgotten (Twilio stops retrying after
        4 hours); a change seen again after that is still caught by its content."""
        ...

    async def record_status(self, message: Message, decided: str | None) -> bool:
        """A status report (StatusCallback), kept if `messages.takes_report` says so;
        `decided` is its RawDlrDoneDate. Returns whether anything changed."""
        ...

    async def to_number(self, to: str, since: datetime, limit: int = 50) -> list[Message]:
        """Messages to one number sent since `since`, newest first."""
        ...

    async def by_sid(self, sids: Iterable[str]) -> list[Message]: ...

    async def recent(self, since: datetime) -> list[Message]: ...

    async def tally(self, codes: Iterable[int], edges: Sequence[datetime]) -> list[Count]:
        """Final outbound messages of [edges[0], edges[-1]], counted between consecutive
        edges: each Count's moment is the edge its span starts at (the last edge is a span
        of its own), its code one of `codes` or None for every other message."""
        ...

    async def earliest_moment(self) -> datetime | None: ...

    async def failures(
        self, code: int, since: datetime, until: datetime, segment: Segment | None = None
    ) -> Failures:
        """The final outbound messages of [since, until] that failed with `code` (and went
        through `segment`, if one is given), counted as `failures.of_messages` counts them."""
        ...

    async def baseline(
        self, code: int, since: datetime, until: datetime, count_seconds: float | None = None
    ) -> Baseline:
        """`code` against all final outbound messages of the whole hours of [since, until).
        Hours never counted are counted now, newest first, for at most `count_seconds`
        (None: all); while some are left, `hours` says how many the baseline rests on."""
        ...

    async def segment_windows(
        self, codes: Iterable[int], starts: Sequence[datetime], until: datetime
    ) -> list[Traffic]:
        """For each of `starts`, oldest first: the final outbound messages of [start,
        until] by segment (their country and carrier as stored, their sender), and those
        that failed with each of `codes`."""
        ...

    async def account_totals(self, since: datetime, until: datetime) -> dict[int, int]:
        """The account's outbound messages over the whole hours of [since, until) that
        `baseline` has counted, by error code, with counting.SENT (every one),
        counting.TOTAL (the final ones) and counting.DELIVERED."""
        ...

    async def hygiene(self, codes: Iterable[int], streak_code: int, since: datetime) -> Record:
        """What the hygiene lists are drawn from, since `since`: the final outbound messages
        that failed with one of `codes`, and for each of their numbers its last final
        message with no error and its last that did not fail with `streak_code` (as
        `hygiene.recorded` says it)."""
        ...

    async def segment_histories(
        self, code: int, since: datetime, until: datetime
    ) -> dict[Segment, History]:
        """Each segment's history for `code` over the whole hours of [since, until) that
        `baseline` has counted."""
        ...

    async def prune(self, before: datetime, limit: int) -> int:
        """Forget what holds a phone number and is older than `before` (RETENTION_DAYS):
        looked-up numbers and lookup uses, and at most `limit` messages, in one short
        transaction. Returns how many messages went: fewer than `limit`, none is left."""
        ...


class LookupRepository(Protocol):
    async def save(self, lookup: Lookup, at: datetime) -> None: ...

    async def cached(self, e164: str, since: datetime) -> CachedLookup | None: ...

    async def uses(self, asker: str, since: datetime) -> list[datetime]:
        """When `asker` made paid lookups since `since`, oldest first."""
        ...

    async def add_use(
        self, asker: str, at: datetime, forget_before: datetime, limit: int
    ) -> int | None:
        """Count one paid lookup, dropping uses older than `forget_before`, and return its
        id; None, counting nothing, when `asker` has `limit` uses already. Atomic."""
        ...

    async def remove_use(self, use: int) -> None: ...

    async def carriers(self) -> dict[str, str]:
        """Carrier by number, for the numbers the cache knows."""
        ...


class IncidentRepository(Protocol):
    async def open_for(self, key: str) -> Incident | None: ...

    async def on_code(self, code: int, limit: int = 20) -> list[Incident]:
        """The latest incidents on `code`, newest first."""
        ...

    async def open_all(self) -> list[Incident]: ...

    async def during(self, since: datetime, until: datetime) -> list[Incident]:
        """The incidents open at some moment of [since, until), oldest first."""
        ...

    async def record(self, incident_id: int) -> IncidentRecord | None: ...

    async def apply(
        self,
        incident_id: int | None,
        decide: Callable[[IncidentRecord | None], Change | None],
        now: datetime,
        fence: int | None = None,
    ) -> Incident | None:
        """In one transaction: read the incident `incident_id` (None: no current one), let
        `decide` (pure, no I/O) say what changes, write it, queue its drafts as of `now`.
        Returns the incident as saved, with its id; None if `decide` changed nothing.
        With a `fence` (the watcher's lease token), raises LeaseLost, writing nothing,
        unless the lease is still that token's."""
        ...

    async def first_click(self, key: str, at: datetime, forget_before: datetime) -> bool:
        """Record a button click; False when it was recorded already (a replay)."""
        ...


class OutboxRepository(Protocol):
    """The Slack posts the watcher owes. Nothing leaves but a post Slack took (or one given
    up after MAX_REFUSALS refusals), so an outage or a restart delays alerts, never loses
    them."""

    async def pending(self) -> list[Outgoing]: ...

    async def claim(self, post_id: int, now: datetime, fence: int | None = None) -> Outgoing | None:
        """The post as it stands, marked as on its way, so changes queued from now on wait
        beside it and no other process sends it; None if it was replaced or sent since it
        was listed, or it or another post of its incident is on its way from elsewhere
        (a claim lasts CLAIM_SECONDS; the watcher's, made with its `fence`, also ends
        when the lease changes hands). With a `fence`, raises LeaseLost unless the lease
        is still that token's."""
        ...

    async def mark_sent(self, post_id: int, now: datetime, posted: SlackMessage | None) -> None:
        """Slack took it; for an incident's first post, `posted` says where it is."""
        ...

    async def mark_failed(self, post_id: int, error: str, refused: bool, claim: str) -> None:
        """Keep it for another try; only refusals count towards MAX_REFUSALS. Only under
        its `claim`: a claim that lapsed and was taken by another is that one's."""
        ...

    async def refused_posts(self) -> int: ...


class WatcherStateRepository(Protocol):
    """Small named values the watcher keeps between cycles and processes, and its lease."""

    async def get(self, name: str) -> str | None: ...

    async def put(self, name: str, value: str) -> None: ...

    async def coverage(self) -> Coverage | None: ...

    async def set_coverage(self, coverage: Coverage) -> None: ...

    async def take_lease(self, owner: str, now: datetime, ttl: timedelta) -> int | None:
        """Hold the watcher's lease until now + ttl, unless another holder's is current,
        and return its fencing token; None when another holds it. Two processes can never
        both win. The token grows each time the lease changes hands, so writes fenced
        with an older one (a watcher that lost it) are refused."""
        ...

    async def release_lease(self, owner: str) -> None: ...


class MuteRepository(Protocol):
    async def mute(self, mute: SegmentMute) -> int:
        """Leave a code's segment out of detection until `mute.until` (a segment muted
        again keeps one row, with the new end and who asked); returns its id."""
        ...

    async def active(self, now: datetime) -> list[SegmentMute]:
        """The mutes still running at `now`, the soonest to end first."""
        ...

    async def unmute(self, mute_id: int) -> SegmentMute | None:
        """End a mute now; returns it as it was (None when there is no such mute)."""
        ...


class Store(Protocol):
    @property
    def dictionary(self) -> DictionaryRepository: ...

    @property
    def messages(self) -> MessageRepository: ...

    @property
    def lookups(self) -> LookupRepository: ...

    @property
    def incidents(self) -> IncidentRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def watcher(self) -> WatcherStateRepository: ...

    @property
    def mutes(self) -> MuteRepository: ...

    async def open(self) -> list[str]:
        """Ready the store for calls and bring its schema up to date; returns the
        migrations run. Once, as the bot starts."""
        ...

    async def aclose(self) -> None: ...
