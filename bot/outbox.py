"""Outbox: the Slack posts the watcher owes, kept in the store until Slack takes them.

A store helper over its Database, like `migrations`: `Store.outbox` is the one in use.
Nothing leaves the outbox but a post Slack took (or one given up after MAX_REFUSALS
refusals), so an outage or a restart delays alerts and never loses them.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.migrations import iso
from bot.sqlite_faults import guard

if TYPE_CHECKING:  # only the store imports sqlite-utils; this module just gets its Database
    import sqlite_utils

MAX_REFUSALS = 5  # Slack refused a post this often: stop trying, and say so in health


@dataclass(frozen=True)
class Outgoing:
    """A Slack post waiting in the outbox. Where it goes is settled as it is sent: a new
    alert to the alert channel of that moment, the rest to the alert's own channel."""

    id: int
    incident_id: int
    kind: str  # "post", "update" or "reply"
    text: str
    blocks: list[Any]
    attempts: int


@guard
class Outbox:
    def __init__(self, db: "sqlite_utils.Database") -> None:
        self.db = db

    def enqueue(
        self, incident_id: int, kind: str, text: str, blocks: list[Any], now: datetime
    ) -> None:
        """Queue a Slack post. A newer edit replaces a pending one, and edits to a message not
        posted yet go into the pending post: Slack only ever needs the latest. A post on its
        way to Slack is left as it is: what it carries was drawn before this change."""
        outbox = self.db.table("outbox")
        payload = {"text": text, "blocks": json.dumps(blocks)}
        waiting = "incident_id = ? and sent_at is null and sending is not 1"
        with self.db.atomic():
            if kind == "update":
                for row in outbox.rows_where(f"{waiting} and kind = 'post'", [incident_id]):
                    outbox.update(row["id"], payload)
                    return
                self.db.execute(
                    f"delete from outbox where {waiting} and kind = 'update'", [incident_id]
                )
            outbox.insert(
                {
                    "incident_id": incident_id,
                    "kind": kind,
                    **payload,
                    "created_at": iso(now),
                    "attempts": 0,
                }
            )

    def has_posts(self, incident_id: int) -> bool:
        """Whether the incident's message is queued or sent already."""
        rows = self.db.table("outbox").rows_where(
            "incident_id = ? and kind = 'post'", [incident_id], limit=1
        )
        return any(True for _ in rows)

    def pending(self) -> list[Outgoing]:
        # An incident whose first post was given up has nothing to edit or reply to.
        rows = self.db.table("outbox").rows_where(
            "sent_at is null and attempts < ? and incident_id not in (select incident_id "
            "from outbox where kind = 'post' and sent_at is null and attempts >= ?)",
            [MAX_REFUSALS, MAX_REFUSALS],
            order_by="id",
        )
        return [_outgoing(row) for row in rows]

    def claim(self, post_id: int) -> Outgoing | None:
        """The post as it stands now, marked as on its way to Slack, so that changes queued
        from now on wait beside it; None if it was replaced or sent since it was listed."""
        with self.db.atomic():
            claimed = self.db.execute(
                "update outbox set sending = 1 where id = ? and sent_at is null", [post_id]
            ).rowcount
            if not claimed:
                return None
            return _outgoing(self.db.table("outbox").get(post_id))

    def mark_sent(self, post_id: int, now: datetime, posted: tuple[str, str] | None) -> None:
        """The post reached Slack; for an incident's first message, `posted` is (channel, ts)."""
        with self.db.atomic():
            self.db.table("outbox").update(
                post_id, {"sent_at": iso(now), "last_error": None, "sending": 0}
            )
            if posted is not None:
                incident_id = self.db.table("outbox").get(post_id)["incident_id"]
                channel, ts = posted
                self.db.table("incidents").update(incident_id, {"channel": channel, "ts": ts})

    def mark_failed(self, post_id: int, error: str, refused: bool) -> None:
        """Keep the post for another try. Only refusals count towards MAX_REFUSALS: an
        outage, however long, never makes the bot give up on an alert."""
        with self.db.atomic():
            self.db.execute(
                "update outbox set attempts = attempts + ?, last_error = ?, sending = 0 "
                "where id = ?",
                [int(refused), error, post_id],
            )

    def refused_posts(self) -> int:
        """Posts given up on after MAX_REFUSALS refusals, for health."""
        return self.db.table("outbox").count_where(
            "sent_at is null and attempts >= ?", [MAX_REFUSALS]
        )


def _outgoing(row: dict[str, Any]) -> Outgoing:
    return Outgoing(
        id=row["id"],
        incident_id=row["incident_id"],
        kind=row["kind"],
        text=row["text"],
        blocks=json.loads(row["blocks"]),
        attempts=row["attempts"],
    )
