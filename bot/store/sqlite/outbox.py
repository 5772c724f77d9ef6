"""The outbox in SQLite: the Slack posts the watcher owes, kept until Slack takes them.

`enqueue` is also called by the incidents' transaction, which queues what a change
shows; the rest serves delivery.
"""

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from bot.domain.alerting import SlackMessage
from bot.store.encoding import iso
from bot.store.sqlite.connections import Connections
from bot.store.sqlite.watcher_state import fenced
from bot.store.values import CLAIM_SECONDS, MAX_REFUSALS, Draft, Outgoing, PostKind


class SqliteOutbox:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def pending(self) -> list[Outgoing]:
        return await self._db.read(_pending)

    async def claim(self, post_id: int, now: datetime, fence: int | None = None) -> Outgoing | None:
        return await self._db.write(_claim, post_id, now, fence)

    async def mark_sent(self, post_id: int, now: datetime, posted: SlackMessage | None) -> None:
        await self._db.write(_mark_sent, post_id, now, posted)

    async def mark_failed(self, post_id: int, error: str, refused: bool, claim: str) -> None:
        await self._db.write(_mark_failed, post_id, error, refused, claim)

    async def refused_posts(self) -> int:
        return await self._db.read(_refused_posts)


def enqueue(db: sqlite_utils.Database, incident_id: int, draft: Draft, now: datetime) -> None:
    """Queue a post, inside the caller's transaction. A newer edit replaces a pending one,
    and an edit of a message not posted yet goes into the pending post: Slack only ever
    needs the latest. A post on its way to Slack is left as it is: what it carries was
    drawn before this change."""
    outbox = db.table("outbox")
    payload = {"text": draft.text, "blocks": json.dumps(draft.blocks)}
    waiting = "incident_id = ? and sent_at is null and sending is not 1"
    if draft.kind == PostKind.UPDATE:
        for row in outbox.rows_where(f"{waiting} and kind = 'post'", [incident_id]):
            outbox.update(row["id"], payload)
            return
        db.execute(f"delete from outbox where {waiting} and kind = 'update'", [incident_id])
    outbox.insert(
        {
            "incident_id": incident_id,
            "kind": str(draft.kind),
            **payload,
            "created_at": iso(now),
            "attempts": 0,
        }
    )


def has_posts(db: sqlite_utils.Database, incident_id: int) -> bool:
    """Whether the incident's message is queued or sent already."""
    rows = db.table("outbox").rows_where(
        "incident_id = ? and kind = 'post'", [incident_id], limit=1
    )
    return any(True for _ in rows)


def _pending(db: sqlite_utils.Database) -> list[Outgoing]:
    # An incident whose first post was given up has nothing to edit or reply to.
    rows = db.table("outbox").rows_where(
        "sent_at is null and attempts < ? and incident_id not in (select incident_id "
        "from outbox where kind = 'post' and sent_at is null and attempts >= ?)",
        [MAX_REFUSALS, MAX_REFUSALS],
        order_by="id",
    )
    return [_outgoing(row) for row in rows]


# A claim still in force: made within CLAIM_SECONDS and, if the watcher made it with its
# lease token, not under a term the lease has freed since (a button's claim has none).
_IN_FLIGHT = (
    "coalesce({t}.sending, 0) = 1 and coalesce({t}.claimed_at, '') >= ? "
    "and ({t}.claim_token is null or {t}.claim_token > ?)"
)


def _claim(
    db: sqlite_utils.Database, post_id: int, now: datetime, fence: int | None
) -> Outgoing | None:
    # The writer runs one write at a time, so no other claim comes between the checks and
    # the update; another process waits for the file's write lock.
    with db.atomic():
        freed = fenced(db, fence).freed
        stale = iso(now - timedelta(seconds=CLAIM_SECONDS))
        claim = uuid.uuid4().hex
        claimed = db.execute(
            "update outbox set sending = 1, claimed_at = ?, claim_token = ?, claim_id = ? "
            f"where id = ? and sent_at is null and not ({_IN_FLIGHT.format(t='outbox')}) "
            f"and not exists (select 1 from outbox o where o.incident_id = outbox.incident_id "
            f"and o.id != outbox.id and o.sent_at is null and {_IN_FLIGHT.format(t='o')})",
            [iso(now), fence, claim, post_id, stale, freed, stale, freed],
        ).rowcount
        if not claimed:
            return None
        return _outgoing(db.table("outbox").get(post_id))


def _mark_sent(
    db: sqlite_utils.Database, post_id: int, now: datetime, posted: SlackMessage | None
) -> None:
    with db.atomic():
        db.table("outbox").update(post_id, {"sent_at": iso(now), "last_error": None, "sending": 0})
        if posted is not None:
            incident_id = db.table("outbox").get(post_id)["incident_id"]
            db.table("incidents").update(incident_id, {"channel": posted.channel, "ts": posted.ts})


def _mark_failed(
    db: sqlite_utils.Database, post_id: int, error: str, refused: bool, claim: str
) -> None:
    # Only refusals count towards MAX_REFUSALS: an outage, however long, never makes the
    # bot give up on an alert. A claim that lapsed and was taken since is not ours to end.
    with db.atomic():
        db.execute(
            "update outbox set attempts = attempts + ?, last_error = ?, sending = 0 "
            "where id = ? and claim_id is ?",
            [int(refused), error, post_id, claim],
        )


def _refused_posts(db: sqlite_utils.Database) -> int:
    return db.table("outbox").count_where("sent_at is null and attempts >= ?", [MAX_REFUSALS])


def _outgoing(row: dict[str, Any]) -> Outgoing:
    return Outgoing(
        id=row["id"],
        incident_id=row["incident_id"],
        kind=PostKind(row["kind"]),
        text=row["text"],
        blocks=json.loads(row["blocks"]),
        attempts=row["attempts"],
        claim=row.get("claim_id") or "",
    )
