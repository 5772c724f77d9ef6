"""The outbox in PostgreSQL: the Slack posts the watcher owes, kept until Slack takes
them. Same contract as on SQLite; `enqueue` also runs in the incidents' transaction."""

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from bot.domain.alerting import SlackMessage
from bot.store.postgresql.connections import Connections, Cursor
from bot.store.postgresql.watcher_state import fenced
from bot.store.values import CLAIM_SECONDS, MAX_REFUSALS, Draft, Outgoing, PostKind

_COLUMNS = ("id", "incident_id", "kind", "text", "blocks", "attempts", "claim_id")
_SELECT = ", ".join(_COLUMNS)
_WAITING = "incident_id = %s and sent_at is null and not sending"


class PostgresOutbox:
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


async def enqueue(cursor: Cursor, incident_id: int, draft: Draft, now: datetime) -> None:
    """Queue a post, inside the caller's transaction, as SQLite's `enqueue` does: a newer
    edit replaces a waiting one or goes into the waiting first post; a post on its way is
    left as it is."""
    text, blocks = draft.text, json.dumps(draft.blocks)
    if draft.kind == PostKind.UPDATE:
        await cursor.execute(
            f"update outbox set text = %s, blocks = %s where id = (select id from outbox "
            f"where {_WAITING} and kind = 'post' order by id limit 1)",
            [text, blocks, incident_id],
        )
        if cursor.rowcount:
            return
        await cursor.execute(
            f"delete from outbox where {_WAITING} and kind = 'update'", [incident_id]
        )
    await cursor.execute(
        "insert into outbox (incident_id, kind, text, blocks, created_at, attempts) "
        "values (%s, %s, %s, %s, %s, 0)",
        [incident_id, str(draft.kind), text, blocks, now],
    )


async def has_posts(cursor: Cursor, incident_id: int) -> bool:
    """Whether the incident's message is queued or sent already."""
    await cursor.execute(
        "select exists (select 1 from outbox where incident_id = %s and kind = 'post')",
        [incident_id],
    )
    row = await cursor.fetchone()
    return bool(row and row[0])


async def _pending(cursor: Cursor) -> list[Outgoing]:
    # An incident whose first post was given up has nothing to edit or reply to.
    await cursor.execute(
        f"select {_SELECT} from outbox where sent_at is null and attempts < %s and incident_id "
        "not in (select incident_id from outbox where kind = 'post' and sent_at is null and "
        "attempts >= %s) order by id",
        [MAX_REFUSALS, MAX_REFUSALS],
    )
    return [_outgoing(row) for row in await cursor.fetchall()]


# A claim still in force: made within CLAIM_SECONDS and, if the watcher made it with its
# lease token, not under a term the lease has freed since (a button's claim has none).
_IN_FLIGHT = (
    "{t}.sending and coalesce({t}.claimed_at, '-infinity') >= %(stale)s "
    "and ({t}.claim_token is null or {t}.claim_token > %(freed)s)"
)


async def _claim(cursor: Cursor, post_id: int, now: datetime, fence: int | None) -> Outgoing | None:
    freed = (await fenced(cursor, fence)).freed
    # The incident's row is locked first: two replicas claiming two of its posts at once
    # are decided one after the other, so neither overtakes the other.
    await cursor.execute(
        "select 1 from incidents where id = (select incident_id from outbox where id = %s) "
        "for update",
        [post_id],
    )
    await cursor.execute(
        "update outbox set sending = true, claimed_at = %(now)s, claim_token = %(fence)s, "
        "claim_id = %(claim)s "
        f"where id = %(id)s and sent_at is null and not ({_IN_FLIGHT.format(t='outbox')}) "
        "and not exists (select 1 from outbox o where o.incident_id = outbox.incident_id "
        f"and o.id != outbox.id and o.sent_at is null and {_IN_FLIGHT.format(t='o')}) "
        f"returning {_SELECT}",
        {
            "now": now,
            "fence": fence,
            "claim": uuid.uuid4().hex,
            "freed": freed,
            "id": post_id,
            "stale": now - timedelta(seconds=CLAIM_SECONDS),
        },
    )
    row = await cursor.fetchone()
    return _outgoing(row) if row else None


async def _mark_sent(
    cursor: Cursor, post_id: int, now: datetime, posted: SlackMessage | None
) -> None:
    await cursor.execute(
        "update outbox set sent_at = %s, last_error = null, sending = false where id = %s "
        "returning incident_id",
        [now, post_id],
    )
    row = await cursor.fetchone()
    if posted is not None and row is not None:
        await cursor.execute(
            "update incidents set channel = %s, ts = %s where id = %s",
            [posted.channel, posted.ts, row[0]],
        )


async def _mark_failed(cursor: Cursor, post_id: int, error: str, refused: bool, claim: str) -> None:
    # Only refusals count towards MAX_REFUSALS: an outage never makes the bot give up. A
    # claim that lapsed and was taken since is not ours to end.
    await cursor.execute(
        "update outbox set attempts = attempts + %s, last_error = %s, sending = false "
        "where id = %s and claim_id is not distinct from %s",
        [int(refused), error, post_id, claim],
    )


async def _refused_posts(cursor: Cursor) -> int:
    await cursor.execute(
        "select count(*) from outbox where sent_at is null and attempts >= %s", [MAX_REFUSALS]
    )
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


def _outgoing(row: tuple[Any, ...]) -> Outgoing:
    values = dict(zip(_COLUMNS, row, strict=True))
    return Outgoing(
        id=values["id"],
        incident_id=values["incident_id"],
        kind=PostKind(values["kind"]),
        text=values["text"],
        blocks=json.loads(values["blocks"]),
        attempts=values["attempts"],
        claim=values["claim_id"] or "",
    )
