"""The watcher under test: a World (a poller on the simulator and the fake Slack, with a
clock the test moves), traffic makers, and the serving app that watches. Shared by the
watcher, fault, restart, access and secrets suites."""

from datetime import UTC, datetime, timedelta

from bot import app as bot_app
from bot import settings, slack_poster
from bot.curated import curated_directory, load_curated
from bot.poller import Poller
from bot.store.sqlite import SqliteStore
from bot.twilio_api import TwilioApi
from tests.conftest import (
    ACCOUNT_SID,
    make_settings,
)
from tests.fake_slack import FakeSlack

POLICY = settings.load({}).policy
CHANNEL = "C0ALERTS"


NOW = datetime.now(UTC).replace(microsecond=0)


class World:
    """A poller on the simulator and the fake Slack, with a clock the test moves."""

    def __init__(self, fake_slack, twilio_sim, tmp_path, **overrides: str) -> None:
        self.now = NOW
        self.settings = make_settings(
            fake_slack, tmp_path, twilio_sim, **{"SLACK_ALERT_CHANNEL": CHANNEL, **overrides}
        )
        self.store = SqliteStore(self.settings.database_path)
        self.twilio = TwilioApi(self.settings)
        self.poller = self._poller()

    async def restart(self) -> Poller:
        """A fresh poller on the same database file, as after a process restart (a clean
        one, which gives the lease back)."""
        await self.store.watcher.release_lease(self.poller.owner)
        self.store.close()
        self.store = SqliteStore(self.settings.database_path)
        self.poller = self._poller()
        return self.poller

    def _poller(self) -> Poller:
        return Poller(
            self.settings,
            self.store,
            self.twilio,
            slack_poster.Poster(slack_poster.web_client(self.settings)),
            load_curated(curated_directory(), POLICY),
            clock=lambda: self.now,
        )

    def second_poller(self) -> Poller:
        """Another process's poller on the same database, as cron next to a serving bot."""
        return Poller(
            self.settings,
            self.store,
            self.twilio,
            self.poller.poster,
            self.poller.curated,
            clock=lambda: self.now,
        )

    async def cycle(self, minutes_later: float = 0):  # type: ignore[no-untyped-def]
        self.now += timedelta(minutes=minutes_later)
        return await self.poller.cycle()

    async def close(self) -> None:
        await self.twilio.close()
        self.store.close()


def send(scenario, count: int, minutes_ago: float, at: datetime = NOW, **fields) -> None:  # type: ignore[no-untyped-def]
    """`count` messages spread over the minute ending `minutes_ago` before `at`."""
    for i in range(count):
        moment = at - timedelta(minutes=minutes_ago, seconds=i * 60 / max(count, 1))
        to = fields.get("to") or f"+1202{len(scenario.messages):07d}"
        scenario.add_message(ACCOUNT_SID, date_created=moment, **{**fields, "to": to})


def failing(
    scenario, count: int, minutes_ago: float, at: datetime = NOW, code: int = 30003
) -> None:  # type: ignore[no-untyped-def]
    status = "failed" if code == 30002 else "undelivered"
    send(scenario, count, minutes_ago, at, status=status, error_code=code)


def a_day_of_quiet_traffic(scenario) -> None:  # type: ignore[no-untyped-def]
    for hour in range(1, 24):
        send(scenario, 99, hour * 60)
        failing(scenario, 1, hour * 60)


def posts(fake: FakeSlack, thread: bool = False) -> list[dict]:
    return [c for c in fake.calls("chat.postMessage") if bool(c.get("thread_ts")) == thread]


def header(message: dict) -> str:
    return message["blocks"][0]["text"]["text"]


def incident_buttons(message: dict) -> dict[str, str]:
    """action_id -> value of the buttons on an incident message."""
    return {
        e["action_id"]: e["value"]
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    }


async def watching_app(aiohttp_client, fake_slack, twilio_sim, tmp_path, interval="0.05"):  # type: ignore[no-untyped-def]
    """The real serving app, polling every 50 ms."""
    settings = make_settings(
        fake_slack,
        tmp_path,
        twilio_sim,
        SLACK_ALERT_CHANNEL=CHANNEL,
        POLL_INTERVAL_SECONDS=interval,
    )
    return await aiohttp_client(bot_app.build(settings))


def app_poller(client) -> Poller:  # type: ignore[no-untyped-def]
    return client.server.app[bot_app.POLLER]


START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


STEP = timedelta(minutes=20)


STEPS = 72  # a day
