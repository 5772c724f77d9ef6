"""Helpers several test modules share: message records, Slack block text, asking the
real app a command, running the bot as a process. Not a test module itself."""

import asyncio
import os
import random
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.domain.messages import Message
from bot.store.sqlite import SqliteStore
from tests.conftest import (
    ACCOUNT_SID,
    post_signed,
    slash_command,
)


def texts(blocks: list[dict[str, Any]]) -> str:
    """All the text of a message's blocks, for assertions on content."""
    out = []
    for block in blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        out += [f["text"] for f in block.get("fields", [])]
        out += [
            e.get("text", "") if isinstance(e.get("text"), str) else e["text"]["text"]
            for e in block.get("elements", [])
        ]
    return "\n".join(out)


NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


TO = "+12025550156"


def msg(minutes_ago: float, status: str = "undelivered", code: int | None = 30003, **kw) -> Message:
    sent = NOW - timedelta(minutes=minutes_ago)
    return Message(
        sid=kw.pop("sid", f"SM{int(minutes_ago * 1000):032x}"),
        status=status,
        to=kw.pop("to", TO),
        from_=kw.pop("from_", "+15005550006"),
        direction="outbound-api",
        error_code=code,
        date_created=sent,
        date_sent=sent,
        **kw,
    )


def run_bot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m bot …` as a user runs it, with no Slack or Twilio settings inherited."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


ROOT = Path(__file__).parent.parent


RECIPIENT = "+12025550156"


async def ask(live, fake_slack, text: str, name: str) -> dict[str, Any]:
    assert await post_signed(live, slash_command(text, fake_slack.response_url(name))) == 200
    await fake_slack.wait_for(lambda: fake_slack.calls(f"response/{name}"))
    [reply] = fake_slack.calls(f"response/{name}")
    return reply


def dead_number_story(scenario) -> str:
    """Four earlier 30003s to the same number in the last days, then the one asked about."""
    now = datetime.now(UTC)
    for hours in (60, 40, 20, 5):
        scenario.add_message(
            ACCOUNT_SID,
            to=RECIPIENT,
            status="undelivered",
            error_code=30003,
            date_created=now - timedelta(hours=hours),
        )
    for i in range(30):
        scenario.add_message(
            ACCOUNT_SID, to=f"+1202555{i:04d}", date_created=now - timedelta(minutes=i)
        )
    target = scenario.add_message(
        ACCOUNT_SID,
        to=RECIPIENT,
        status="undelivered",
        error_code=30003,
        error_message="Unreachable destination handset",
        date_created=now - timedelta(minutes=2),
    )
    return target.sid


def query(path: str, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
    """Rows of the database file at `path`, read as an outsider would: on a connection of
    its own, which sees what the bot's writer has committed."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


async def on_writer(store: object, sql: str) -> list[tuple[object, ...]]:
    """Run `sql` on the writer connection of a SQLite store, as a fault a test injects
    (a full disk, a read-only file) or a figure it reads from there."""
    assert isinstance(store, SqliteStore)
    return await store.connections.raw(sql)


async def until(condition: Callable[[], bool], seconds: float = 10) -> None:
    """Wait, checking every 10 ms, for what happens after the last request Slack saw."""
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


def traffic(seed: int, hours: float, now: datetime) -> list[Message]:
    """Random messages over the `hours` before `now`: every status and direction, a few
    never sent, some codes."""
    rng = random.Random(seed)
    found = []
    for i in range(1500):
        created = now - timedelta(seconds=rng.randrange(int(hours * 3600)))
        status = rng.choice(["delivered", "delivered", "undelivered", "failed", "sent", "queued"])
        code = rng.choice([30003, 30007, 30002]) if status in ("undelivered", "failed") else None
        found.append(
            Message(
                sid=f"SM{i:032x}",
                status=status,
                to=rng.choice(["+1202555{:04d}", "+4474001{:05d}"]).format(rng.randrange(100)),
                from_=rng.choice(["+15005550006", "+15005550010", "+15005550011"]),
                messaging_service_sid=rng.choice([None, None, "", "MG1", "MG2"]),
                direction=rng.choice(["outbound-api", "outbound-api", "inbound"]),
                error_code=code,
                date_created=created,
                date_sent=None if status in ("failed", "queued") else created,
            )
        )
    return found
