"""Twilio at its worst: a day of traffic watched through random faults, and credentials
that stop working. The watcher must keep every message once, see what a calm run sees,
count the faults, and say "credentials rejected" once rather than fail quietly forever."""

import random
from datetime import datetime

import pytest

from bot.errors import CredentialsRejected
from bot.simulation.faults import RANDOM_FAULTS
from bot.simulation.scenario import Scenario
from bot.simulation.simulator import Simulator
from bot.tuning import Tuning
from tests.conftest import ACCOUNT_SID, FIGURES, start_simulator
from tests.support import query
from tests.watching import START, STEP, STEPS, World, header, posts


def watching(fake_slack, sim: Simulator, tmp_path, name: str, **overrides: str) -> World:
    """A watcher with its own database and channel, its clock a day back."""
    world = World(
        fake_slack,
        sim,
        tmp_path,
        Tuning(twilio_backoff_seconds=0.01),
        DATABASE_PATH=str(tmp_path / f"{name}.db"),
        SLACK_ALERT_CHANNEL=f"C0{name.upper()}",
        **overrides,
    )
    world.now = START
    return world


def traffic(scenario: Scenario, rng: random.Random, since: datetime, until: datetime) -> None:
    """One step of a day: about 1 % 30003, and 15 % from hour 12 to hour 14."""
    hour = (since - START).total_seconds() / 3600
    spike = 12 <= hour < 14
    for i in range(60):
        moment = since + (until - since) * (i + 1) / 60
        to = f"+1202{rng.randrange(10_000_000):07d}"
        undelivered = rng.random() < (0.15 if spike else 0.01)
        scenario.add_message(
            ACCOUNT_SID,
            to=to,
            date_created=moment,
            status="undelivered" if undelivered else "delivered",
            error_code=30003 if undelivered else None,
        )


def stored(path: str) -> dict[str, tuple[str, int | None]]:
    rows = query(path, "select sid, status, error_code from messages")
    return {sid: (status, code) for sid, status, code in rows}


@pytest.mark.slow
async def test_a_day_under_random_twilio_faults_sees_what_a_calm_day_sees(
    aiohttp_server, fake_slack, scenario, tmp_path
):
    calm_sim = await start_simulator(aiohttp_server, scenario)
    faulty_sim = await start_simulator(aiohttp_server, scenario)  # the same account, faults on
    # A hang outlasts the timeout by a wide margin, and the timeout is wide of any honest
    # answer even on a loaded machine: at 0.2 s a calm answer once timed out in CI.
    faulty_sim.fail_at_random(0.2, seed=20, hang_seconds=3)
    calm = watching(fake_slack, calm_sim, tmp_path, "calm")
    faulty = watching(fake_slack, faulty_sim, tmp_path, "faulty", TWILIO_TIMEOUT_SECONDS="1")
    rng = random.Random(6)
    try:
        for step in range(STEPS):
            traffic(scenario, rng, START + step * STEP, START + (step + 1) * STEP)
            calm.now = faulty.now = START + (step + 1) * STEP
            expected = await calm.watcher.cycle()
            # Retries hide every fault of this (seeded, so repeatable) run: not one cycle
            # fails, and each sees exactly what the calm one saw.
            got = await faulty.watcher.cycle()
            assert got.readings == expected.readings, f"step {step}"

        sent = {m.sid: (m.status, m.error_code) for m in scenario.messages}
        faulty_path, calm_path = faulty.settings.database_path, calm.settings.database_path
        assert stored(faulty_path) == stored(calm_path) == sent
        [(rows, distinct)] = query(
            faulty_path, "select count(*), count(distinct sid) from messages"
        )
        assert rows == distinct == len(sent)

        def alerts(channel: str) -> list[str]:
            return [header(p) for p in posts(fake_slack) if p["channel"] == channel]

        def edits(channel: str) -> list[str]:
            return [header(p) for p in fake_slack.calls("chat.update") if p["channel"] == channel]

        assert alerts(calm.settings.slack_alert_channel) == alerts(
            faulty.settings.slack_alert_channel
        )
        assert alerts(calm.settings.slack_alert_channel), "the spike opened an incident"
        assert (
            edits(calm.settings.slack_alert_channel)[-1]
            == edits(faulty.settings.slack_alert_channel)[-1]
        )
        assert edits(calm.settings.slack_alert_channel)[-1].startswith("✅ Resolved: 30003")

        health = faulty.watcher.health
        assert health.twilio_faults == sum(faulty_sim.faulted.values()) > 0
        assert health.twilio_gave_up == 0
        assert calm.watcher.health.twilio_faults == 0
        status = await faulty.watcher.actions.status()
        assert (
            f"{health.twilio_faults} retried" in dict(status.facts())["Twilio faults since start"]
        )
    finally:
        await calm.close()
        await faulty.close()
    requests = len(faulty_sim.received)
    FIGURES["Twilio faults: a simulated day at 20 %"] = (
        f"{requests} requests, {sum(faulty_sim.faulted.values())} failed "
        f"({', '.join(f'{faulty_sim.faulted[k]} {k}' for k in RANDOM_FAULTS)}); "
        f"all retried; {len(sent)} of {len(sent)} messages kept, once each; {STEPS} of "
        f"{STEPS} cycles saw what the calm run saw; "
        f"{len(alerts(faulty.settings.slack_alert_channel))} incident posted, as without faults"
    )


async def test_rejected_credentials_are_one_incident_that_resolves(
    aiohttp_server, fake_slack, scenario, tmp_path
):
    sim = await start_simulator(aiohttp_server, scenario)
    watcher = watching(fake_slack, sim, tmp_path, "creds")
    try:
        await watcher.watcher.cycle()
        scenario.accounts[ACCOUNT_SID].auth_token = "rotated in the Console"
        for _ in range(5):
            watcher.now += STEP
            with pytest.raises(CredentialsRejected):
                await watcher.watcher.cycle()
        [alert] = posts(fake_slack)
        assert alert["channel"] == watcher.settings.slack_alert_channel
        assert header(alert) == (
            "🔴 Critical: Twilio rejected the bot's credentials (20003 Permission Denied)"
        )
        assert not fake_slack.calls("chat.update"), "nothing changed, so nothing was edited"
        assert "credentials" in (watcher.watcher.health.last_error or "")

        scenario.accounts[ACCOUNT_SID].auth_token = watcher.settings.twilio_auth_token
        watcher.now += STEP
        await watcher.watcher.cycle()
        [resolved] = fake_slack.calls("chat.update")
        assert header(resolved).startswith("✅ Resolved: Twilio rejected the bot's credentials")
        [note] = posts(fake_slack, thread=True)
        assert "resolved" in note["text"]
        watcher.now += STEP
        await watcher.watcher.cycle()
        assert len(posts(fake_slack)) == 1 and len(posts(fake_slack, thread=True)) == 1
        assert len(fake_slack.calls("chat.update")) == 1
    finally:
        await watcher.close()
    FIGURES["Twilio credentials rejected for 5 cycles"] = "1 alert, 1 edit when resolved"
