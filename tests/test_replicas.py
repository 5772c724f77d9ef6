"""Replicas: three `python -m bot` processes serving on one PostgreSQL database, as
`web=3` on a Heroku-style platform. One alert per incident, buttons on any replica, and
after kill -9 of the watching one, another takes over and nothing is lost or doubled."""

import asyncio
import json
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from bot.render.blocks import ACK_ACTION_ID, MUTE_ACTION_IDS
from bot.simulation.scenario import Scenario
from bot.store.postgresql import PostgresStore
from tests.conftest import (
    ACCOUNT_SID,
    BOT_TOKEN,
    FIGURES,
    SIGNING_SECRET,
    button_click,
    signed_headers,
    start_fake_slack,
    start_simulator,
    twilio_env,
)
from tests.fake_slack import FakeSlack
from tests.watching import CHANNEL, header, incident_buttons, posts

INTERVAL_SECONDS = 0.5
WAIT_SECONDS = 60  # for anything the test waits on; a healthy run needs a few


class Replica:
    """One `python -m bot` serving on a port of its own."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.env = {**env, "PORT": str(self.port)}
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("a") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", env=self.env, cwd=self.log.parent,
                stdout=log, stderr=log,
            )  # fmt: skip

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def healthz(self, session: aiohttp.ClientSession) -> dict[str, object] | None:
        try:
            async with session.get(f"http://127.0.0.1:{self.port}/healthz") as response:
                return dict(await response.json())
        except aiohttp.ClientError:
            return None

    async def click(self, session: aiohttp.ClientSession, body: str) -> int:
        url = f"http://127.0.0.1:{self.port}/slack/events"
        async with session.post(url, data=body, headers=signed_headers(body)) as response:
            return response.status

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        assert await self.process.wait() == -signal.SIGKILL

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def until(condition: Callable[[], Awaitable[bool]], what: str, replicas: list[Replica]):
    """Wait, bounded, for something the replicas do; re-checked every 20 ms."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not await condition():
        for replica in replicas:
            process = replica.process
            if process is not None and process.returncode not in (None, -signal.SIGKILL):
                raise AssertionError(f"{replica.name} exited: {replica.log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            logs = "\n".join(r.log.read_text()[-1500:] for r in replicas)
            raise AssertionError(f"no {what} after {WAIT_SECONDS} s\n{logs}")
        await asyncio.sleep(0.02)


def alerts(fake: FakeSlack) -> list[dict[str, object]]:
    return posts(fake)  # the incidents' own messages: not their thread notes


@pytest.mark.slow
async def test_three_replicas_post_once_answer_buttons_anywhere_and_survive_kill_9(
    aiohttp_server, scenario: Scenario, tmp_path, postgres_url
):
    sim = await start_simulator(aiohttp_server, scenario)
    slack = await start_fake_slack(aiohttp_server)
    env = {
        **twilio_env(sim),
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": postgres_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url + "/api/",
        "SLACK_ALERT_CHANNEL": CHANNEL,
        "POLL_INTERVAL_SECONDS": str(INTERVAL_SECONDS),
        "HOST": "127.0.0.1",
    }
    replicas = [Replica(f"web.{i}", env, tmp_path / f"web.{i}.log") for i in (1, 2, 3)]
    store = PostgresStore(postgres_url)
    account = scenario.accounts[ACCOUNT_SID]
    account.status = "suspended"
    async with aiohttp.ClientSession() as session:
        try:
            await asyncio.gather(*(replica.start() for replica in replicas))
            await store.open()

            async def all_serving() -> bool:
                return all([await r.healthz(session) for r in replicas])

            await until(all_serving, "/healthz from every replica", replicas)

            async def holder() -> Replica | None:
                lease = await store.watcher.get("lease")
                owner = json.loads(lease)[0] if lease else None
                return next((r for r in replicas if owner and f":{r.pid}:" in owner), None)

            async def alerted() -> bool:
                return len(alerts(slack)) >= 1

            await until(alerted, "the suspension alert", replicas)
            watching = await holder()
            assert watching is not None

            # Several more cycles of every replica: still the one alert.
            async def cycled() -> bool:
                health = await watching.healthz(session)
                return bool(health) and int(health["poller"]["cycles"]) >= 5  # type: ignore[index]

            await until(cycled, "five cycles of the watching replica", replicas)
            [alert] = alerts(slack)
            assert "suspended" in header(alert).lower()

            # A button on each of the other two replicas: each shows at once, once.
            others = [r for r in replicas if r is not watching]
            buttons = incident_buttons(alert)
            for replica, (action, name) in zip(
                others, [(ACK_ACTION_ID, "ack"), (next(iter(MUTE_ACTION_IDS)), "mute")], strict=True
            ):
                edits = len(slack.calls("chat.update"))
                body = button_click(action, buttons[action], slack.response_url(name), "U0ONCALL")
                assert await replica.click(session, body) == 200

                async def answered(name: str = name) -> bool:
                    return bool(slack.calls(f"response/{name}"))

                async def shown(edits: int = edits) -> bool:
                    return len(slack.calls("chat.update")) > edits

                await until(answered, f"the answer to {name}", replicas)
                await until(shown, f"the alert edited after {name}", replicas)
            edited = slack.calls("chat.update")
            assert "Acknowledged by <@U0ONCALL>" in json.dumps(edited[-1]["blocks"])

            # kill -9 the watching replica: another takes over, by the lease.
            await watching.kill()
            killed_at = time.monotonic()

            async def taken_over() -> bool:
                now_holding = await holder()
                return now_holding is not None and now_holding is not watching

            await until(taken_over, "another replica holding the lease", others)
            takeover = time.monotonic() - killed_at
            # The account comes back: the new watcher resolves the same alert, once.
            updates = len(slack.calls("chat.update"))
            account.status = "active"

            async def resolved() -> bool:
                return any(
                    "resolved" in header(call).lower()
                    for call in slack.calls("chat.update")[updates:]
                )

            await until(resolved, "the alert resolved by the new watcher", others)
            # And a new incident after the takeover is posted, once.
            account.status = "suspended"

            async def second_alert() -> bool:
                return len(alerts(slack)) >= 2

            await until(second_alert, "a second alert after the takeover", others)
            new_holder = await holder()
            assert new_holder is not None

            async def settled() -> bool:
                health = await new_holder.healthz(session)
                return bool(health) and int(health["poller"]["cycles"]) >= 5  # type: ignore[index]

            await until(settled, "five cycles of the new watcher", others)
            assert len(alerts(slack)) == 2
            texts = [json.dumps(call) for call in slack.calls("chat.postMessage")]
            assert len(texts) == len(set(texts))  # no post, alert or note, went twice
            FIGURES["Replicas"] = (
                f"3 processes on one PostgreSQL database, polling every {INTERVAL_SECONDS:g} s: "
                f"1 alert per incident, buttons answered on both standbys, takeover "
                f"{takeover:.2f} s after kill -9 of the watcher, nothing posted twice"
            )
        finally:
            await asyncio.gather(*(replica.stop() for replica in replicas))
            await store.aclose()
