"""The watcher under test: a World (a watcher on the simulator and the fake Slack, with a
clock the test moves), traffic makers, and the serving app that watches. Shared by the
watcher, fault, restart, access and secrets suites."""

from datetime import UTC, datetime, timedelta
from typing import Any

from bot import app as bot_app
from bot import settings
from bot.adapters.slack.poster import Poster, web_client
from bot.adapters.twilio import TwilioApi
from bot.answers.curated import curated_directory, load_curated
from bot.store.backends import store_for
from bot.tuning import Tuning
from bot.watcher.config import WatcherConfig
from bot.watcher.cycle import Watcher
from tests.conftest import (
    ACCOUNT_SID,
    make_settings,
)
from tests.fake_slack import FakeSlack

POLICY = settings.load({}).policy
CHANNEL = "C0ALERTS"


NOW = datetime.now(UTC).replace(microsecond=0)


class World:
    """A watcher on the simulator and the fake Slack, with a clock the test moves."""

    def __init__(
        self, fake_slack, twilio_sim, tmp_path, tuning: Tuning | None = None, **overrides: str
    ) -> None:
        """`DATABASE_URL` among the overrides puts it on PostgreSQL; `await open()` next."""
        self.now = NOW
        self.settings = make_settings(
            fake_slack, tmp_path, twilio_sim, **{"SLACK_ALERT_CHANNEL": CHANNEL, **overrides}
        )
        self.config = WatcherConfig.from_settings(self.settings, tuning)
        self.store = store_for(self.settings.database_url, self.settings.database_path)
        self.twilio = TwilioApi(
            self.settings, backoff_seconds=self.config.tuning.twilio_backoff_seconds
        )
        self.watcher = self._watcher()

    async def open(self) -> "World":
        await self.store.open()
        return self

    async def restart(self) -> Watcher:
        """A fresh watcher on the same database, as after a process restart (a clean one,
        which gives the lease back)."""
        await self.store.watcher.release_lease(self.watcher.owner)
        await self.store.aclose()
        self.store = store_for(self.settings.database_url, self.settings.database_path)
        await self.store.open()
        # The settings as the restarted process reads them (a test may have changed them).
        self.config = WatcherConfig.from_settings(self.settings, self.config.tuning)
        self.watcher = self._watcher()
        return self.watcher

    def _watcher(self) -> Watcher:
        return Watcher(
            self.config,
            self.store,
            self.twilio,
            Poster(web_client(self.settings, self.config.tuning.slack_timeout_seconds)),
            load_curated(curated_directory(), POLICY),
            clock=lambda: self.now,
        )

    def second_watcher(self) -> Watcher:
        """Another process's watcher on the same database, as cron next to a serving bot."""
        return Watcher(
            self.config,
            self.store,
            self.twilio,
            self.watcher.delivery.poster,
            self.watcher.curated,
            clock=lambda: self.now,
        )

    async def cycle(self, minutes_later: float = 0):
        self.now += timedelta(minutes=minutes_later)
        return await self.watcher.cycle()

    async def close(self) -> None:
        await self.twilio.close()
        await self.store.aclose()


def send(scenario, count: int, minutes_ago: float, at: datetime = NOW, **fields) -> None:
    """`count` messages spread over the minute ending `minutes_ago` before `at`."""
    for i in range(count):
        moment = at - timedelta(minutes=minutes_ago, seconds=i * 60 / max(count, 1))
        to = fields.get("to") or f"+1202{len(scenario.messages):07d}"
        scenario.add_message(ACCOUNT_SID, date_created=moment, **{**fields, "to": to})


def failing(
    scenario, count: int, minutes_ago: float, at: datetime = NOW, code: int = 30003
) -> None:
    status = "failed" if code == 30002 else "undelivered"
    send(scenario, count, minutes_ago, at, status=status, error_code=code)


def a_day_of_quiet_traffic(scenario) -> None:
    for hour in range(1, 24):
        send(scenario, 99, hour * 60)
        failing(scenario, 1, hour * 60)


def posts(fake: FakeSlack, thread: bool = False) -> list[dict[str, Any]]:
    return [c for c in fake.calls("chat.postMessage") if bool(c.get("thread_ts")) == thread]


def header(message: dict[str, Any]) -> str:
    return message["blocks"][0]["text"]["text"]


def incident_buttons(message: dict[str, Any]) -> dict[str, str]:
    """action_id -> value of the buttons on an incident message."""
    return {
        e["action_id"]: e["value"]
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    }


async def watching_app(
    aiohttp_client,
    fake_slack,
    twilio_sim,
    tmp_path,
    interval="0.05",
    tuning=None,
    clock=None,
    database_url="",
):
    """The real serving app, polling every 50 ms (on the real clock unless given one), on
    the SQLite file or, given a URL, on PostgreSQL."""
    settings = make_settings(
        fake_slack,
        tmp_path,
        twilio_sim,
        SLACK_ALERT_CHANNEL=CHANNEL,
        POLL_INTERVAL_SECONDS=interval,
        DATABASE_URL=database_url,
    )
    clock = clock or (lambda: datetime.now(UTC))
    return await aiohttp_client(bot_app.build(settings, tuning or Tuning(), clock))


PUBLIC_URL = "https://bot.example.com"


async def sink_app(aiohttp_client, fake_slack, twilio_sim, tmp_path, database_url="", **env):
    """The serving app with its Event Streams sink (PUBLIC_URL set; polling hourly, so
    only the stream, a nudge or the first cycle bring messages in), which the
    simulator's pushes reach through PUBLIC_URL as a proxy would make it."""
    settings = make_settings(
        fake_slack,
        tmp_path,
        twilio_sim,
        DATABASE_URL=database_url,
        PUBLIC_URL=PUBLIC_URL,
        SLACK_ALERT_CHANNEL=CHANNEL,
        POLL_INTERVAL_SECONDS="3600",
        **env,
    )
    tuning = Tuning(nudge_gap_seconds=0.01, early_share=0)
    client = await aiohttp_client(bot_app.build(settings, tuning))
    twilio_sim.event_streams.reachable[PUBLIC_URL] = str(client.make_url("")).rstrip("/")
    return client


def app_watcher(client) -> Watcher:
    return client.server.app[bot_app.WATCHER]


START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


STEP = timedelta(minutes=20)


STEPS = 72  # a day
