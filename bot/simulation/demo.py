"""Demo: the whole loop on the built-in simulator, with no credentials and no network.

A scripted story runs on an accelerated clock (one simulated minute per cycle): steady
traffic with about 1 % 30003, a spike to about 15 %, recovery; then the route to the
United Kingdom fails, a country with about 2 % of the traffic, which the account-wide
rule misses and detection per country catches; Twilio's review fails the 10DLC campaign
of a Messaging Service, which is posted before any message fails for it; and with
`suspend` an account suspension and its end. A few stale numbers keep failing all along
(an unknown handset, a landline, a recipient who opted out, a phone switched off for
days). The real watcher watches it and posts to a console stand-in for Slack, which
prints every post, edit and thread reply. Then `why` explains one of the failed
messages, `lookup` checks its number and `hygiene` lists the numbers to clean up.
"""

import asyncio
import random
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot import settings
from bot.adapters.slack.poster import Poster, web_client
from bot.adapters.twilio import TwilioApi
from bot.answers import commands
from bot.answers.curated import curated_directory, load_curated
from bot.answers.service import Service
from bot.domain.messages import utc
from bot.render.terminal import render_text
from bot.simulation import stream
from bot.simulation.console_slack import ConsoleSlack
from bot.simulation.scenario import Scenario, make_sid
from bot.simulation.serving import serving
from bot.simulation.simulator import Simulator
from bot.store.backends import opened_store
from bot.store.postgresql.scratch import scratch_schema
from bot.watcher.config import WatcherConfig
from bot.watcher.cycle import Watcher

ACCOUNT = make_sid("AC", "demo account")
TOKEN = "demo-auth-token"
CHANNEL = "C0DEMO"
PER_MINUTE = 40  # messages sent each simulated minute
HISTORY = timedelta(hours=2)  # steady traffic before the demo starts, for a baseline
SPIKE = range(8, 24)  # simulated minutes with the spike
UK_OUTAGE = range(46, 58)  # every message to the United Kingdom fails
CAMPAIGN_FAILS_AT = 72  # Twilio's review fails the service's 10DLC campaign
MINUTES = 92
SUSPEND_AT = 84
RESTORE_AT = 88
UK_NUMBERS = 40  # the United Kingdom's recipients, one message a minute among them
# Stale numbers on the sending list: each fails now and then, the same way every time.
STALE = (
    (7, "+12025550199", 30005, "Unknown destination handset"),
    (11, "+12025550142", 30006, "Landline or unreachable carrier"),
    (13, "+12025550177", 21610, "Attempt to send to unsubscribed recipient"),
    (17, "+12025550166", 30003, "Unreachable destination handset"),  # switched off for days
)


def story_rate(minute: int) -> float:
    """The share of messages failing with 30003 in a simulated minute."""
    return 0.16 if minute in SPIKE else 0.01


SECONDS_PER_MINUTE = 0.3  # a pause a reader can follow


async def run(
    suspend: bool = False,
    seconds_per_minute: float = SECONDS_PER_MINUTE,
    out: Callable[[str], None] = print,
    database_url: str = "",
    events: bool = False,
) -> int:
    """The demo, on a SQLite file of its own, or, given DATABASE_URL, in a schema of its
    own in that PostgreSQL database, dropped at the end. With `events`, the messages
    arrive through Event Streams (`stream`), and the list is only swept."""
    if database_url:
        async with scratch_schema(database_url, "bot_demo") as url:
            return await _run(suspend, seconds_per_minute, out, url, events)
    return await _run(suspend, seconds_per_minute, out, "", events)


async def _run(
    suspend: bool,
    seconds_per_minute: float,
    out: Callable[[str], None],
    database_url: str,
    events: bool,
) -> int:
    rng = random.Random(30003)
    # From the top of the hour: which whole hours the baselines rest on (and so whether
    # the spike opens as a warning) would otherwise depend on the minute it is started.
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    scenario = Scenario()
    scenario.add_account(ACCOUNT, TOKEN)
    scenario.add_registration(ACCOUNT, "brand", "APPROVED", about="STANDARD")
    scenario.add_registration(ACCOUNT, "campaign", "IN_PROGRESS", about="MARKETING")
    for minute in range(-int(HISTORY.total_seconds() // 60), 0):
        _send_minute(scenario, rng, start, minute)
    simulator = Simulator(scenario)
    console = ConsoleSlack(out)
    now = [start]
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            serving(simulator.app()) as twilio_origin,
            serving(console.app()) as slack_origin,
            stream.sink_serving(lambda: now[0]) as sink,
        ):
            simulator.origin = twilio_origin
            config = settings.load(
                {
                    "SLACK_BOT_TOKEN": "xoxb-demo",
                    "SLACK_API_URL": slack_origin + "/api/",
                    "SLACK_ALERT_CHANNEL": CHANNEL,
                    "TWILIO_ACCOUNT_SID": ACCOUNT,
                    "TWILIO_AUTH_TOKEN": TOKEN,
                    "TWILIO_API_URL": twilio_origin,
                    "DATABASE_PATH": str(Path(tmp) / "demo.db"),
                    "DATABASE_URL": database_url,
                    "BACKFILL_HOURS": "3",
                    "REGISTRATION_CHECK_MINUTES": "5",
                    "PUBLIC_URL": sink.origin if events else "",
                }
            )
            streaming = stream.Streaming(simulator, sink) if events else None
            return await _watch(
                config, scenario, rng, now, suspend, seconds_per_minute, out, streaming
            )


async def _watch(
    config: settings.Settings,
    scenario: Scenario,
    rng: random.Random,
    now: list[datetime],
    suspend: bool,
    seconds_per_minute: float,
    out: Callable[[str], None],
    streaming: "stream.Streaming | None",
) -> int:
    start = now[0]
    store = await opened_store(config.database_url, config.database_path)
    twilio = TwilioApi(config)
    curated = load_curated(curated_directory(), config.policy)
    watcher = Watcher(
        WatcherConfig.from_settings(config),
        store,
        twilio,
        Poster(web_client(config)),
        curated,
        lambda: now[0],
    )
    try:
        out("Demo: a simulated Twilio account, watched by the bot; one minute per cycle.")
        out(f"{utc(start)}: two hours of steady traffic so far, about 1 % failing with 30003.")
        if streaming is not None:
            await streaming.set_up(store, twilio, config, out)
        for minute in range(MINUTES):
            now[0] = start + timedelta(minutes=minute + 1)
            held = len(scenario.messages)
            _send_minute(scenario, rng, start, minute)
            if streaming is not None:
                await streaming.push(scenario.messages[held:])
            if minute == SPIKE.start:
                out(f"\n{utc(now[0])}: a carrier starts dropping messages (about 15 % 30003).")
            if minute == SPIKE.stop:
                out(f"\n{utc(now[0])}: the carrier recovers.")
            if minute == UK_OUTAGE.start:
                out(
                    f"\n{utc(now[0])}: the route to the United Kingdom fails: every message "
                    "to +44 is undelivered (30003). The UK has about 2 % of the traffic, so the "
                    "account's rate stays under its 5 % rule; the UK's own is judged apart."
                )
            if minute == UK_OUTAGE.stop:
                out(f"\n{utc(now[0])}: the route to the United Kingdom is back.")
            if minute == CAMPAIGN_FAILS_AT:
                _fail_campaign(scenario)
                out(
                    f"\n{utc(now[0])}: Twilio's review fails the Messaging Service's 10DLC "
                    "campaign. No message has failed for it yet."
                )
            if suspend and minute == SUSPEND_AT:
                scenario.accounts[ACCOUNT].status = "suspended"
                out(f"\n{utc(now[0])}: Twilio suspends the account.")
            if suspend and minute == RESTORE_AT:
                scenario.accounts[ACCOUNT].status = "active"
                out(f"\n{utc(now[0])}: Twilio reinstates the account.")
            await watcher.cycle_safely()
            await asyncio.sleep(seconds_per_minute)
        if streaming is not None:
            out(streaming.summary(watcher.health))
        spike_start = start + timedelta(minutes=SPIKE.start)
        failures = [m for m in scenario.messages if m.error_code]
        failed = next((m for m in failures if m.date_created >= spike_start), failures[-1])
        service = Service(
            curated,
            store,
            config.policy,
            twilio,
            clock=lambda: now[0],
            alert_window=config.thresholds.window,
        )
        for command in (f"why {failed.sid}", f"lookup {failed.to}", "hygiene"):
            out(f"\n$ python -m bot {command}\n")
            out(render_text(await commands.answer(command, service)))
        out("\nThat was the demo. `python -m bot --help` lists the settings for the real thing.")
        return 0
    finally:
        await twilio.close()
        await store.aclose()


def _fail_campaign(scenario: Scenario) -> None:
    campaign = next(r for r in scenario.registrations if r.kind == "campaign")
    campaign.status = "FAILED"
    campaign.reason = (
        "The sample messages do not show the opt-out language the campaign description promises."
    )


def _send_minute(scenario: Scenario, rng: random.Random, start: datetime, minute: int) -> None:
    at = start + timedelta(minutes=minute)
    scenario.send_minute(ACCOUNT, rng, at, PER_MINUTE, story_rate(minute))
    uk_fails = minute in UK_OUTAGE
    scenario.add_message(
        ACCOUNT,
        to=f"+4474001{minute % UK_NUMBERS:05d}",
        from_="+15005550006",
        status="undelivered" if uk_fails else "delivered",
        error_code=30003 if uk_fails else None,
        error_message="Unreachable destination handset" if uk_fails else None,
        date_created=at + timedelta(seconds=30),
    )
    for every, number, code, title in STALE:
        if minute % every == 0:
            scenario.add_message(
                ACCOUNT,
                to=number,
                from_="+15005550010",
                status="undelivered" if code >= 30000 else "failed",
                error_code=code,
                error_message=title,
                date_created=at + timedelta(seconds=45),
            )
