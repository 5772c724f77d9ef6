import asyncio
import itertools
import json
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from slack_sdk.signature import SignatureVerifier

from bot import app as bot_app
from bot import cli, settings
from bot.simulation.scenario import Scenario, make_sid
from bot.simulation.simulator import Simulator
from bot.store import Store
from bot.store.postgresql import PostgresStore
from bot.store.sqlite import SqliteStore
from tests.fake_slack import FakeSlack
from tests.postgres import SKIP_REASON, Cluster, server_binaries

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees a real token, whatever the shell running it has set."""
    for name in list(os.environ):
        if name.startswith(("SLACK_", "TWILIO_")) or name in {s.name for s in settings.SETTINGS}:
            monkeypatch.delenv(name)
    yield


@pytest.fixture
async def fake_slack(aiohttp_server) -> FakeSlack:
    return await start_fake_slack(aiohttp_server)


async def start_fake_slack(aiohttp_server) -> FakeSlack:
    """A fake Slack on 127.0.0.1, for a test that needs a second one."""
    fake = FakeSlack()
    server: TestServer = await aiohttp_server(fake.app(), host="127.0.0.1", port=0)
    fake.base_url = str(server.make_url("")).rstrip("/")
    return fake


ACCOUNT_SID = make_sid("AC", "test account")
AUTH_TOKEN = "test-auth-token"
API_KEY = make_sid("SK", "test key")
API_SECRET = "test-api-secret"


@pytest.fixture
def scenario() -> Scenario:
    world = Scenario()
    world.add_account(ACCOUNT_SID, AUTH_TOKEN, api_keys={API_KEY: API_SECRET})
    return world


@pytest.fixture
async def twilio_sim(aiohttp_server, scenario: Scenario) -> Simulator:
    return await start_simulator(aiohttp_server, scenario)


async def start_simulator(aiohttp_server, scenario: Scenario) -> Simulator:
    """A simulator on 127.0.0.1 serving `scenario` (several may serve the same one)."""
    sim = Simulator(scenario)
    server: TestServer = await aiohttp_server(sim.app(), host="127.0.0.1", port=0)
    sim.origin = str(server.make_url("")).rstrip("/")
    return sim


def twilio_env(sim: Simulator) -> dict[str, str]:
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_URL": sim.origin,
    }


def make_settings(
    fake: FakeSlack | None, tmp_path, sim: Simulator | None = None, **overrides: str
) -> settings.Settings:
    env = {"DATABASE_PATH": str(tmp_path / "bot.db")}
    if fake is not None:
        env.update(
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake.base_url + "/api/",
        )
    if sim is not None:
        env.update(twilio_env(sim))
    return settings.load({**env, **overrides})


@pytest.fixture
async def client(
    fake_slack: FakeSlack, tmp_path, aiohttp_client
) -> TestClient[web.Request, web.Application]:
    """The real aiohttp app, in HTTP mode, talking to the fake Slack."""
    return await aiohttp_client(bot_app.build(make_settings(fake_slack, tmp_path)))


_TRIGGERS = itertools.count(1)  # Slack gives every interaction its own trigger_id


def slash_command(text: str, response_url: str, **fields: str) -> str:
    form = {
        "token": "deprecated-verification-token",
        "team_id": "T0001",
        "channel_id": "C0001",
        "user_id": "U0001",
        "user_name": "oncall",
        "command": "/twilio",
        "text": text,
        "response_url": response_url,
        "trigger_id": f"{next(_TRIGGERS)}.1.1",
        "api_app_id": "A0001",
        **fields,
    }
    return urlencode(form)


def button_click(
    action_id: str,
    value: str,
    response_url: str,
    user: str = "U0001",
    channel: str = "C0001",
    trigger_id: str = "",
) -> str:
    """The form body Slack posts when someone clicks one of the bot's buttons; each click
    its own trigger_id, as Slack gives it, unless one is given (a replay)."""
    payload = {
        "type": "block_actions",
        "team": {"id": "T0001"},
        "user": {"id": user, "username": "oncall"},
        "channel": {"id": channel},
        "api_app_id": "A0001",
        "token": "x",
        "trigger_id": trigger_id or f"{next(_TRIGGERS)}.2.3",
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "value": value,
                "block_id": "b",
                "action_ts": "1",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def signed_headers(
    body: str, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None  # None only without a timestamp
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }


async def post_signed(client: TestClient[web.Request, web.Application], body: str, **kwargs) -> int:
    response = await client.post("/slack/events", data=body, headers=signed_headers(body, **kwargs))
    await response.read()
    return response.status


LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to resolve or reach a host other than loopback fails the test."""
    real_getaddrinfo = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in LOOPBACK and host is not None:
            raise AssertionError(f"test tried to reach {host!r}; only loopback is allowed")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@contextmanager
def serving(app: web.Application) -> Iterator[str]:
    """Run an aiohttp app on 127.0.0.1:0 in a thread, for code that runs its own loop."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def run_cli(args: list[str], scenario: Scenario, tmp_path, **env: str) -> tuple[int, Simulator]:
    """`python -m bot <args>` in-process, against the simulator serving on a thread."""
    sim = Simulator(scenario)
    with serving(sim.app()) as origin:
        sim.origin = origin
        full_env = {"DATABASE_PATH": str(tmp_path / "bot.db"), **twilio_env(sim), **env}
        return cli.main(args, full_env), sim


# Figures the hardening suites measure (requests failed, messages kept, inputs tried),
# printed at the end of the run for the README's "Operating" section.
FIGURES: dict[str, str] = {}


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL server for the run, started on first use."""
    bindir = server_binaries()
    if bindir is None:
        FIGURES["PostgreSQL"] = SKIP_REASON
        pytest.skip(SKIP_REASON)
    cluster = Cluster(bindir)
    try:
        cluster.start()
        FIGURES["PostgreSQL"] = f"a throwaway cluster of {bindir} on 127.0.0.1:{cluster.port}"
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> Iterator[str]:
    """An empty database of its own for the test."""
    name = postgres_cluster.new_database()
    try:
        yield postgres_cluster.url(name)
    finally:
        postgres_cluster.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """DATABASE_URL for each backend in turn: empty (the SQLite file), then PostgreSQL."""
    return str(request.getfixturevalue("postgres_url")) if request.param == "postgresql" else ""


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Store]:
    """Each backend in turn, opened and up to date: the repository suite runs on both."""
    if request.param == "sqlite":
        opened: Store = SqliteStore(str(tmp_path / "bot.db"))
    else:
        opened = PostgresStore(request.getfixturevalue("postgres_url"))
    await opened.open()
    try:
        yield opened
    finally:
        await opened.aclose()


def pytest_terminal_summary(terminalreporter) -> None:
    if FIGURES:
        terminalreporter.section("hardening figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")
