"""Slack at its worst: a day of incidents delivered through random faults, and a setup
Slack refuses (a wrong channel, a revoked token). Every incident must reach the channel
once, end as it ends without faults, and a person must be told what to fix."""

import asyncio
import logging
import random
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.simulation.scenario import Scenario
from bot.store import MAX_REFUSALS
from bot.tuning import Tuning
from tests.conftest import ACCOUNT_SID, FIGURES, start_fake_slack
from tests.fake_slack import RANDOM_FAULTS, FakeSlack, Fault
from tests.watching import CHANNEL, START, STEP, STEPS, World, failing, header, posts, watching_app

WRITES = ("chat.postMessage", "chat.update")
# The share of messages undelivered with 30003, by hour of the day; 1 % otherwise. A
# warning that escalates, a spike someone acknowledges, one someone mutes.
STORM = {6: 0.07, 7: 0.25, 12: 0.2, 13: 0.2, 21: 0.2, 22: 0.2}
PER_STEP = 120
ACK_STEP, MUTE_STEP = 39, 64  # 13:20 and 21:40
SUSPENDED_HOUR = 18


def channel_view(fake: FakeSlack) -> list[tuple[str, list[Any], list[str]]]:
    """What a person reading the channel sees: each alert as it stands now (its header
    and all its blocks) and the notes in its thread, in order."""
    return [
        (header({"blocks": m.blocks}), m.blocks, [note.text for note in fake.thread(ts)])
        for ts, m in fake.shown.items()
        if m.thread_ts is None
    ]


@pytest.fixture
async def world(fake_slack, twilio_sim, tmp_path):
    w = World(fake_slack, twilio_sim, tmp_path)
    yield w
    await w.close()


def traffic(scenario: Scenario, rng: random.Random, since: datetime) -> None:
    """PER_STEP messages over the STEP from `since`, to random numbers; the failures spread
    evenly, so that each step's share is the hour's."""
    share = STORM.get(int((since - START) / timedelta(hours=1)), 0.01)
    for i in range(PER_STEP):
        undelivered = int((i + 1) * share) > int(i * share)
        scenario.add_message(
            ACCOUNT_SID,
            to=f"+1202{rng.randrange(10_000_000):07d}",
            date_created=since + STEP * (i + 1) / PER_STEP,
            status="undelivered" if undelivered else "delivered",
            error_code=30003 if undelivered else None,
        )


@pytest.mark.slow
async def test_a_day_under_random_slack_faults_shows_what_a_calm_day_shows(
    aiohttp_server, fake_slack, twilio_sim, scenario, tmp_path
):
    # Long enough that a call the fake answers is never given up on a slow machine (it
    # would then be posted twice); the fake's hangs outlast it.
    patient = Tuning(slack_timeout_seconds=2)
    faulty_slack = await start_fake_slack(aiohttp_server)
    faulty_slack.fail_at_random(0.3, seed=7, methods=WRITES, hang_seconds=3)
    calm = World(fake_slack, twilio_sim, tmp_path, patient, DATABASE_PATH=str(tmp_path / "calm.db"))
    faulty = World(
        faulty_slack, twilio_sim, tmp_path, patient, DATABASE_PATH=str(tmp_path / "faulty.db")
    )
    rng = random.Random(6)
    account = scenario.accounts[ACCOUNT_SID]
    try:
        for step in range(STEPS + 1):
            traffic(scenario, rng, START + step * STEP)
            hour = int(step * STEP / timedelta(hours=1))
            account.status = "suspended" if hour == SUSPENDED_HOUR else "active"
            if step == STEPS:  # the day is over, and Slack takes everything again
                faulty_slack.fail_at_random(0, seed=0, methods=())
            for world in (calm, faulty):
                world.now = START + (step + 1) * STEP
                await world.watcher.cycle()
                # Someone on call acknowledges one spike and mutes another, from the alert.
                if step in (ACK_STEP, MUTE_STEP):
                    [incident] = await world.store.incidents.open_all()
                    assert incident.id is not None
                    if step == ACK_STEP:
                        await world.watcher.actions.acknowledge(incident.id, "U0ONCALL")
                    else:
                        await world.watcher.actions.mute(incident.id, "U0ONCALL", hours=1)

        seen = channel_view(faulty_slack)
        assert seen == channel_view(fake_slack)
        assert [title.split(":")[0] for title, _, _ in seen] == ["✅ Resolved"] * 4
        assert all(notes for _, _, notes in seen), "each incident has its thread log"
        assert faulty.watcher.health.pending_posts == 0
        assert faulty.watcher.health.refused_posts == 0
        assert faulty.watcher.health.slack_problem is None
        assert set(faulty_slack.faulted) == set(RANDOM_FAULTS), "every kind of fault, at least once"
    finally:
        await calm.close()
        await faulty.close()
    calls = sum(len(faulty_slack.calls(method)) for method in WRITES)
    FIGURES["Slack faults: a simulated day at 30 % of posts and edits"] = (
        f"{calls} calls, {sum(faulty_slack.faulted.values())} failed "
        f"({', '.join(f'{faulty_slack.faulted[k]} {k}' for k in RANDOM_FAULTS)}); "
        f"{len(seen)} of {len(seen)} incidents posted once each, ending as in the calm run "
        f"with the same {sum(len(n) for _, _, n in seen)} thread notes; none given up"
    )


@pytest.mark.parametrize(
    ("error", "fix"),
    [
        ("channel_not_found", f"Slack finds no channel {CHANNEL} that the bot can see"),
        ("not_in_channel", f"The bot is not a member of channel {CHANNEL}: invite it"),
        ("is_archived", f"Channel {CHANNEL} is archived"),
        ("invalid_auth", "Slack rejects SLACK_BOT_TOKEN (invalid_auth): reinstall the app"),
        ("token_revoked", "Slack rejects SLACK_BOT_TOKEN (token_revoked)"),
        ("missing_scope", "The Slack app lacks a permission it needs (missing_scope)"),
    ],
)
async def test_a_setup_slack_refuses_holds_the_alert_and_says_what_to_fix(
    world, scenario, fake_slack, caplog, error, fix
):
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    cycles = MAX_REFUSALS + 3  # more than a refused post is tried before it is given up
    fake_slack.inject(Fault("chat.postMessage", error=error, times=cycles))
    with caplog.at_level(logging.WARNING, logger="bot.watcher"):
        for _ in range(cycles):
            result = await world.cycle(minutes_later=1)
            assert result.delivered == 0 and result.pending == 1
            assert (world.watcher.health.slack_problem or "").startswith(fix)
    logged = [r for r in caplog.records if fix in r.getMessage()]
    assert [r.levelname for r in logged] == ["ERROR"] + ["WARNING"] * (cycles - 1)
    facts = dict((await world.watcher.actions.status()).facts())
    assert facts["Slack needs a fix"].startswith(fix)

    result = await world.cycle(minutes_later=1)  # fixed
    assert result.delivered == 1 and result.pending == 0
    assert fake_slack.posted == 1 and world.watcher.health.slack_problem is None
    assert world.watcher.health.refused_posts == 0
    assert header(posts(fake_slack)[0]).startswith("🔴 Critical")


async def test_a_corrected_channel_setting_gets_the_held_alert(world, scenario, fake_slack):
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    fake_slack.inject(Fault("chat.postMessage", error="channel_not_found"))
    assert (await world.cycle()).pending == 1
    # Someone follows the advice: SLACK_ALERT_CHANNEL set to the right ID, bot restarted.
    world.settings = replace(world.settings, slack_alert_channel="C0RIGHT")
    await world.restart()
    assert (await world.cycle(minutes_later=1)).delivered == 1
    assert [p["channel"] for p in posts(fake_slack)] == [CHANNEL, "C0RIGHT"]
    assert world.watcher.health.slack_problem is None


async def test_an_old_alerts_closed_channel_gives_its_posts_up_and_holds_no_other(
    world, scenario, fake_slack
):
    """An incident posted before SLACK_ALERT_CHANNEL changed lives on in the old channel.
    That channel archived, no setting can bring its edits back: they are refused like any
    post, and alerts bound for the new channel flow."""
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    await world.cycle()
    scenario.accounts[ACCOUNT_SID].status = "active"
    world.settings = replace(world.settings, slack_alert_channel="C0NEWALERTS")
    await world.restart()  # as a changed setting takes effect
    fake_slack.inject(Fault("chat.update", error="is_archived", times=100))
    for _ in range(MAX_REFUSALS + 4):  # it resolves after three; then its edit is refused
        await world.cycle(minutes_later=1)
    assert world.watcher.health.refused_posts >= 1
    assert world.watcher.health.slack_problem is None  # nothing the setting could fix
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    result = await world.cycle(minutes_later=1)
    assert result.delivered == 1 and result.pending == 0
    assert [p["channel"] for p in posts(fake_slack)] == [CHANNEL, "C0NEWALERTS"]


async def test_a_token_slack_refuses_stops_the_round(world, scenario, fake_slack):
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    failing(scenario, 30, 0.5, at=world.now)  # and a 30003 spike: two alerts to post
    fake_slack.inject(Fault("chat.postMessage", error="token_revoked", times=1))
    result = await world.cycle()
    # The second alert was not tried: with the token refused, it would be refused too.
    assert len(fake_slack.calls("chat.postMessage")) == 1
    assert result.delivered == 0 and result.pending == 2
    result = await world.cycle(minutes_later=1)
    assert result.delivered == 2 and result.pending == 0
    shown = [header({"blocks": m.blocks}) for m in fake_slack.shown.values()]
    assert len(shown) == 2 and "30002" in shown[0] and "30003" in shown[1]


async def test_healthz_says_what_slack_needs_fixed(
    fake_slack, twilio_sim, scenario, tmp_path, aiohttp_client
):
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    fake_slack.inject(Fault("chat.postMessage", error="not_in_channel", times=10_000))
    client = await watching_app(aiohttp_client, fake_slack, twilio_sim, tmp_path)
    await fake_slack.wait_for(lambda: len(fake_slack.calls("chat.postMessage")) >= 2)
    response = await client.get("/healthz")
    body = await response.json()
    assert response.status == 200  # a restart would not fix it
    assert body["status"] == "needs attention"
    assert body["poller"]["slack_needs_fix"] is True  # what to fix: in /twilio status


async def test_an_answer_cut_short_holds_the_post_like_a_5xx(world, scenario, fake_slack):
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    fake_slack.inject(Fault("chat.postMessage", raw='{"ok": true, "chan'))
    result = await world.cycle()
    assert result.pending == 1
    assert world.watcher.health.last_error == "Slack: Slack's answer could not be read"
    assert (await world.cycle(minutes_later=1)).delivered == 1


MAINTENANCE = "<html><body><h1>Down for maintenance</h1></body></html>"


@pytest.mark.parametrize(
    ("raw", "status", "content_type", "problem"),
    [
        (MAINTENANCE, 200, "text/html", "(HTTP 200)"),
        (MAINTENANCE, 403, "text/html", "(HTTP 403)"),
        ("Access denied", 403, "text/plain", "(HTTP 403)"),
        ("Access denied", 200, "text/plain", "(not a JSON object)"),
        ('{"message": "blocked by policy"}', 200, "application/json", "(HTTP 200)"),
        ('["not", "an", "object"]', 200, "application/json", "(not a JSON object)"),
    ],
)
async def test_an_answer_slack_did_not_write_is_an_outage_not_a_refusal(
    world, scenario, fake_slack, raw, status, content_type, problem
):
    """Issue 14, item 1: a proxy or firewall page, cycle after cycle, past the refusals
    that give a post up; then Slack is back, and the critical alert goes, once."""
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    cycles = MAX_REFUSALS + 2
    fake = Fault(
        "chat.postMessage", raw=raw, raw_status=status, content_type=content_type, times=cycles
    )
    fake_slack.inject(fake)
    for _ in range(cycles):
        result = await world.cycle(minutes_later=1)
        assert result.delivered == 0 and result.pending == 1
    assert world.watcher.health.last_error == f"Slack: an answer Slack did not write {problem}"
    assert world.watcher.health.refused_posts == 0 and world.watcher.health.slack_outage
    facts = dict((await world.watcher.actions.status()).facts())
    assert facts["Last error"] == f"Slack: an answer Slack did not write {problem}"
    result = await world.cycle(minutes_later=1)
    assert result.delivered == 1 and fake_slack.posted == 1
    assert world.watcher.health.slack_outage is False


async def test_healthz_says_slack_is_unavailable_while_posts_wait_on_it(
    fake_slack, twilio_sim, scenario, tmp_path, aiohttp_client
):
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    fake = Fault("chat.postMessage", raw=MAINTENANCE, content_type="text/html", times=10_000)
    fake_slack.inject(fake)
    client = await watching_app(aiohttp_client, fake_slack, twilio_sim, tmp_path)
    await fake_slack.wait_for(lambda: len(fake_slack.calls("chat.postMessage")) > MAX_REFUSALS)
    body = await (await client.get("/healthz")).json()
    assert body["status"] == "slack unavailable"  # 200: a restart would not help
    assert body["poller"]["pending_posts"] == 1 and body["poller"]["refused_posts"] == 0
    fake.times = 0  # Slack is back
    await fake_slack.wait_for(lambda: fake_slack.posted == 1)


async def test_a_long_retry_after_holds_the_post_instead_of_stalling_the_watcher(
    world, scenario, fake_slack
):
    """Issue 14, item 4: a Retry-After of 120 s stalled the watcher for minutes. Longer
    than 30 s, the post waits in the outbox for a later cycle; shorter ones are waited."""
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    fake_slack.inject(Fault("chat.postMessage", status=429, retry_after=120))
    result = await asyncio.wait_for(world.cycle(), timeout=10)
    assert result.delivered == 0 and result.pending == 1
    assert world.watcher.health.last_error == "Slack: Slack answered HTTP 429"
    result = await world.cycle(minutes_later=1)
    assert result.delivered == 1 and fake_slack.posted == 1
