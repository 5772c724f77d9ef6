"""Restart safety: the watcher as a process of its own (`python -m bot poll`), killed with
SIGKILL at random points of its cycles and started again, while the account is suspended
and restored several times and messages keep arriving. No incident may be lost or posted
twice, and no message skipped."""

import asyncio
import random
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.simulation.scenario import Scenario
from bot.simulation.simulator import Simulator
from tests.conftest import (
    ACCOUNT_SID,
    BOT_TOKEN,
    FIGURES,
    start_fake_slack,
    start_simulator,
    twilio_env,
)
from tests.fake_slack import FakeSlack
from tests.support import query
from tests.watching import CHANNEL, header

KILLS = 12
EPISODES = 4  # suspended, then active again until the incident resolves
POINTS = ("posting to Slack", "reading messages from Twilio", "at a random moment")
# A kill this close after Slack took a post may fall before the bot recorded it: that
# post is then sent again (the README says so). Only there is a second copy excused.
UNRECORDED_SECONDS = 0.2
WAIT_SECONDS = 60  # for anything the test waits on; a healthy run needs a few


class Watcher:
    """`python -m bot poll`, started, killed and started again."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        with self.log.open("a") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "poll",
                env=self.env,
                cwd=self.log.parent,
                stdout=log,
                stderr=log,
            )
        self.starts += 1

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        assert await self.process.wait() == -signal.SIGKILL, self.log.read_text()[-3000:]


async def until(condition: Callable[[], bool], what: str, watcher: Watcher) -> None:
    """Wait, bounded, for something another process does; re-checked every 10 ms."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        process = watcher.process
        if process is not None and process.returncode not in (None, -signal.SIGKILL):
            raise AssertionError(f"the watcher exited: {watcher.log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {WAIT_SECONDS} s")
        await asyncio.sleep(0.01)


def grows(count: Callable[[], int]) -> Callable[[], bool]:
    """A condition: `count()` is above what it is now."""
    start = count()
    return lambda: count() > start


def alerts(fake: FakeSlack) -> list[tuple[str, str]]:
    """(ts, header) of every alert the channel shows, oldest first."""
    return [(ts, header({"blocks": m.blocks})) for ts, m in fake.shown.items() if not m.thread_ts]


@pytest.mark.slow
async def test_killed_at_random_points_the_watcher_loses_nothing_and_posts_nothing_twice(
    aiohttp_server, scenario: Scenario, tmp_path
):
    sim: Simulator = await start_simulator(aiohttp_server, scenario)
    slack = await start_fake_slack(aiohttp_server)
    # Slow enough that a kill lands inside a call, and that cycles overlap the kills.
    sim.latency_seconds = 0.02
    slack.latency_seconds = 0.2  # a kill while posting lands well inside it
    env = {
        **twilio_env(sim),
        "DATABASE_PATH": str(tmp_path / "bot.db"),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": slack.base_url + "/api/",
        "SLACK_ALERT_CHANNEL": CHANNEL,
        "POLL_INTERVAL_SECONDS": "0.2",
    }
    watcher = Watcher(env, tmp_path / "watcher.log")
    rng, feed_rng = random.Random(9), random.Random(10)  # apart: the feed runs at its own pace
    account = scenario.accounts[ACCOUNT_SID]
    kills: list[tuple[str, float]] = []

    def messages_asked() -> int:
        return sim.count("/Messages.json")

    def slack_calls() -> int:
        return sum(1 for r in slack.received if r.path.startswith("chat."))

    async def feed() -> None:
        """Messages keep arriving, some showing up late (Twilio lists a message a
        little after its date_created: the watcher reads two minutes back for them)."""
        while True:
            for _ in range(5):
                late = timedelta(seconds=feed_rng.choice((0, 0, 0, 30, 90)))
                scenario.add_message(
                    ACCOUNT_SID,
                    to=f"+1202{feed_rng.randrange(10_000_000):07d}",
                    date_created=datetime.now(UTC) - late,
                    status="delivered",
                )
            await asyncio.sleep(0.05)

    async def kill_at_random_points() -> None:
        for _ in range(KILLS):
            # Each life gets as far as its first cycle before the point is chosen.
            await until(grows(messages_asked), "cycle after a start", watcher)
            point = rng.choice(POINTS)
            if point == POINTS[0]:
                try:
                    await asyncio.wait_for(until(grows(slack_calls), "Slack call", watcher), 3)
                except TimeoutError:
                    point = POINTS[2]  # nothing to post this time: a kill all the same
            elif point == POINTS[1]:
                await until(grows(messages_asked), "read", watcher)
            else:
                await asyncio.sleep(rng.uniform(0, 0.6))
            kills.append((point, time.monotonic()))
            await watcher.kill()
            await watcher.start()

    def resolved_count() -> int:
        return sum(title.startswith("✅ Resolved") for _, title in alerts(slack))

    async def episodes() -> None:
        for episode in range(EPISODES):
            account.status = "suspended"
            await until(grows(lambda: len(alerts(slack))), f"alert {episode + 1}", watcher)
            account.status = "active"
            await until(grows(resolved_count), f"alert {episode + 1} resolved", watcher)

    await watcher.start()
    feeding = asyncio.create_task(feed())
    killing = asyncio.create_task(kill_at_random_points())
    try:
        await episodes()
        await killing
        feeding.cancel()
        # The last life runs undisturbed until it has read everything the feed sent.
        sent = {m.sid for m in scenario.messages}

        def stored() -> set[str]:
            return {row[0] for row in query(env["DATABASE_PATH"], "select sid from messages")}

        await until(lambda: stored() >= sent, "complete store", watcher)
    finally:
        feeding.cancel()
        killing.cancel()
        if watcher.process is not None and watcher.process.returncode is None:
            await watcher.kill()

    # Every message the simulator sent is stored, once (the sid is the key), as sent.
    rows = query(env["DATABASE_PATH"], "select sid, status from messages")
    [(incidents,)] = query(env["DATABASE_PATH"], "select count(*) from incidents")
    assert {sid: status for sid, status in rows} == {m.sid: m.status for m in scenario.messages}
    assert incidents == EPISODES

    # Each suspension is one alert, resolved, with its note; a second copy only when a
    # kill fell in the instant after Slack took the first.
    def excused(ts: str) -> bool:
        return any(-0.05 < at - slack.taken_at[ts] < UNRECORDED_SECONDS for _, at in kills)

    shown = alerts(slack)
    resolved = [ts for ts, title in shown if title.startswith("✅ Resolved")]
    copies = [ts for ts, title in shown if not title.startswith("✅ Resolved")]
    assert len(resolved) == EPISODES
    assert all(excused(ts) for ts in copies), f"posted twice: {copies}"
    for ts in resolved:
        notes = [(m.text, note_ts) for note_ts, m in slack.shown.items() if m.thread_ts == ts]
        assert any("resolved" in text for text, _ in notes), notes
        firsts = {text: note_ts for text, note_ts in reversed(notes)}
        again = [firsts[text] for text, note_ts in notes if note_ts != firsts[text]]
        assert all(excused(first) for first in again), f"notes posted twice: {notes}"
        copies += again
    assert len(kills) == KILLS and watcher.starts == KILLS + 1
    # Each kill while posting cut a Slack call off before Slack took it.
    assert slack.abandoned >= sum(1 for point, _ in kills if point == POINTS[0])
    where = ", ".join(f"{sum(1 for p, _ in kills if p == point)} {point}" for point in POINTS)
    FIGURES["Restarts: SIGKILL at random points of the watcher's cycles"] = (
        f"{KILLS} kills ({where}); {slack.abandoned} Slack calls cut off; "
        f"all {len(rows)} messages stored; {EPISODES} of {EPISODES} "
        f"incidents posted and resolved; {len(copies)} posted twice"
    )
