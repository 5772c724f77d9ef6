"""Values: what crosses the store's seam (`repositories`), one dataclass or enum a
concept, the same for every backend."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.answers.phone_numbers import Lookup
from bot.domain.alerting import Incident, SlackMessage
from bot.domain.segments import Segment
from bot.domain.spikes import Reading

MAX_REFUSALS = 5  # Slack refused a post this often: stop trying, and say so in health
# How long a post claimed for sending is another process's to send, before anyone may
# claim it again: longer than Slack's slowest answer with its retries. A claim the
# watcher made before its lease changed hands is free at once.
CLAIM_SECONDS = 300


@dataclass(frozen=True)
class ReadingBack:
    """An ingest that stopped short of where it was to begin (a first backfill of a busy
    account, or a long gap): the messages from `next_page` (a Twilio next-page URI) down
    to `down_to` are still to be read, and once they are, the coverage begins at `joins`."""

    next_page: str
    down_to: datetime
    joins: datetime


@dataclass(frozen=True)
class Coverage:
    """The span of time whose every message the watcher has stored, as its last ingest
    left it, and how often it reads: the span is current while cycles keep coming. While
    the ingest reads back, `since` moves back each cycle."""

    since: datetime
    through: datetime
    interval_seconds: float
    reading_back: ReadingBack | None = None

    def covers(self, since: datetime, now: datetime) -> bool:
        """Whether [since, now] is held, give or take two missed cycles and a minute."""
        late = (now - self.through).total_seconds()
        return self.since <= since and late <= 2 * self.interval_seconds + 60


@dataclass(frozen=True)
class CachedLookup:
    lookup: Lookup
    at: datetime  # when Twilio answered it


class PostKind(StrEnum):
    POST = "post"  # an incident's message
    UPDATE = "update"  # an edit of it
    REPLY = "reply"  # a note in its thread


@dataclass(frozen=True)
class Draft:
    """A Slack post to queue for an incident."""

    kind: PostKind
    text: str
    blocks: list[Any]


@dataclass(frozen=True)
class Outgoing:
    """A Slack post waiting in the outbox. Where it goes is settled as it is sent: a new
    alert to the alert channel of that moment, the rest to the alert's own channel."""

    id: int
    incident_id: int
    kind: PostKind
    text: str
    blocks: list[Any]
    attempts: int
    claim: str = ""  # the claim it was handed out under, to give it back with


@dataclass(frozen=True)
class IncidentRecord:
    incident: Incident
    reading: Reading | None  # the reading its Slack message shows
    posted: SlackMessage | None  # None until Slack took its first post
    shown: str  # the digest of the blocks its message shows ("" before it was drawn)
    queued: bool  # its first post is in the outbox (waiting or sent)


@dataclass(frozen=True)
class Drawn:
    """What the channel should see of an incident after a change."""

    shown: str  # the digest of the blocks its message shows from now on
    drafts: tuple[Draft, ...]  # the posts that get it there


@dataclass(frozen=True)
class Change:
    """What one decision on an incident writes, all in one transaction."""

    incident: Incident  # its new state (id None: a new incident)
    reading: Reading | None = None  # what its message shows from now on; None: unchanged
    # Draws the incident as saved (a new one has its id by then: its buttons carry it);
    # None leaves its message as it is.
    draw: Callable[[Incident], Drawn] | None = None


@dataclass(frozen=True)
class SegmentMute:
    """One code's segment left out of detection until a moment, and who asked."""

    code: int
    segment: Segment
    until: datetime
    by: str  # the Slack user who muted it
    at: datetime
    id: int | None = None  # the store's, once saved


@dataclass(frozen=True)
class Recorded:
    """What storing a batch of reports did: events never seen before, events seen
    already (Twilio delivers some twice), and messages whose status changed."""

    events: int
    repeated: int
    changed: int
