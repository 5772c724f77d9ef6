"""The watcher end to end: the simulator's messages in, incidents out on the fake Slack."""

import asyncio
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot import app as bot_app
from bot import cli, settings
from bot.answers.service import Service
from bot.domain.messages import Message
from bot.errors import TwilioUnavailable, WatcherBusy
from bot.render.blocks import ACK_ACTION_ID, MUTE_ACTION_IDS, SAMPLES_ACTION_ID
from bot.simulation.faults import Fault as TwilioFault
from bot.simulation.simulator import Simulator
from bot.tuning import Tuning
from tests.backends import rows
from tests.conftest import (
    ACCOUNT_SID,
    button_click,
    make_settings,
    post_signed,
    serving,
    slash_command,
    twilio_env,
)
from tests.fake_slack import FakeSlack, Fault
from tests.support import on_writer, texts, until
from tests.watching import (
    CHANNEL,
    NOW,
    World,
    a_day_of_quiet_traffic,
    app_watcher,
    failing,
    header,
    incident_buttons,
    posts,
    send,
    watching_app,
)

POLICY = settings.load({}).policy


@pytest.fixture
async def world(database_url, fake_slack, twilio_sim, tmp_path):
    """The watcher on each backend in turn: it behaves the same on both."""
    w = await World(fake_slack, twilio_sim, tmp_path, DATABASE_URL=database_url).open()
    yield w
    await w.close()


@pytest.fixture
async def tuned_world(fake_slack, twilio_sim, tmp_path):
    """A World whose watcher reads pages and saves batches of the sizes a test gives."""
    made: list[World] = []

    def make(tuning: Tuning) -> World:
        made.append(World(fake_slack, twilio_sim, tmp_path, tuning))
        return made[-1]

    yield make
    for w in made:
        await w.close()


async def test_a_spike_is_posted_once_edited_then_resolved(world, scenario, fake_slack):
    a_day_of_quiet_traffic(scenario)
    send(scenario, 90, 5)
    failing(scenario, 7, 4)  # 7 of 97: 7.2 %, seven recipients: a warning
    await world.cycle()
    [alert] = posts(fake_slack)
    assert alert["channel"] == CHANNEL
    assert header(alert) == "🟠 Warning: 30003 Unreachable destination handset"

    await world.cycle(minutes_later=1)
    assert len(posts(fake_slack)) == 1  # never a second message for the same incident

    failing(scenario, 20, 0.5, at=world.now + timedelta(minutes=1))
    await world.cycle(minutes_later=1)
    edits = fake_slack.calls("chat.update")
    assert edits and edits[-1]["ts"] == "1700000000.000001"
    assert header(edits[-1]).startswith("🔴 Critical: 30003")
    [note] = posts(fake_slack, thread=True)
    assert note["thread_ts"] == "1700000000.000001" and "now critical" in note["text"]

    # Twenty quiet minutes later the spike has left the window: three quiet checks resolve it.
    for _ in range(3):
        send(scenario, 50, 0.5, at=world.now + timedelta(minutes=20))
        await world.cycle(minutes_later=20)
    assert header(fake_slack.calls("chat.update")[-1]).startswith("✅ Resolved: 30003")
    notes = posts(fake_slack, thread=True)
    assert "resolved after" in notes[-1]["text"]
    assert len(posts(fake_slack)) == 1


async def test_quiet_traffic_posts_nothing(world, scenario, fake_slack):
    a_day_of_quiet_traffic(scenario)
    send(scenario, 99, 5)
    failing(scenario, 1, 5)
    for minute in range(5):
        await world.cycle(minutes_later=minute and 1)
    assert fake_slack.calls("chat.postMessage") == []


async def test_one_recipient_retried_fifty_times_is_not_an_incident(world, scenario, fake_slack):
    send(scenario, 50, 5)
    for i in range(50):
        scenario.add_message(
            ACCOUNT_SID,
            to="+12025550156",
            status="undelivered",
            error_code=30003,
            date_created=NOW - timedelta(minutes=4, seconds=i),
        )
    result = await world.cycle()
    [reading] = [r for r in result.readings if r.code == 30003]
    assert reading.failed == 50 and reading.recipients == 1
    assert fake_slack.calls("chat.postMessage") == []


async def test_ten_sends_are_too_few(world, scenario, fake_slack):
    failing(scenario, 10, 3)
    await world.cycle()
    assert fake_slack.calls("chat.postMessage") == []


async def test_a_suspended_account_is_one_critical_alert(world, scenario, fake_slack):
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    await world.cycle()
    await world.cycle(minutes_later=1)
    [alert] = posts(fake_slack)
    assert header(alert) == "🔴 Critical: account suspended (30002 Account suspended)"


async def test_a_suspension_alert_states_the_account_not_a_rate_and_ends_with_it(
    world, scenario, fake_slack
):
    """Issue 13, item 9: no rate, failures, baseline or sparkline; what Twilio does; the
    email first; resolved by the first cycle that finds the account active again, although
    the 30002s it caused are still in the window."""
    a_day_of_quiet_traffic(scenario)
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    failing(scenario, 3, 2, code=30002)
    await world.cycle()
    [alert] = posts(fake_slack)
    content = texts(alert["blocks"])
    assert "*Account status*\nsuspended" in content
    assert "*Failed with 30002*\n3 in the last 15 min" in content
    assert "fail with 30002 instead of being sent" in content
    assert "1. Find the suspension email Twilio sent" in content
    for figure in ("Rate", "Baseline", "Failures", "5-minute steps", "peaked", "0.0%"):
        assert figure not in content, figure
    scenario.accounts[ACCOUNT_SID].status = "active"
    await world.cycle(minutes_later=1)
    resolved = fake_slack.calls("chat.update")[-1]
    assert header(resolved) == "✅ Resolved: 30002 Account suspended"
    assert "*Account status*\nactive again" in texts(resolved["blocks"])
    [note] = posts(fake_slack, thread=True)
    assert note["text"].endswith(
        "resolved after 1 min: the account is active and no message fails with 30002."
    )
    assert await world.store.incidents.open_all() == []


async def test_a_single_30002_is_critical_at_once(world, scenario, fake_slack):
    failing(scenario, 1, 2, code=30002)
    await world.cycle()
    [alert] = posts(fake_slack)
    assert header(alert).startswith("🔴 Critical: 30002")


async def test_slack_429_is_waited_out_and_posted_once(world, scenario, fake_slack):
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    fake_slack.inject(Fault("chat.postMessage", status=429, retry_after=0))
    result = await world.cycle()
    assert result.delivered == 1 and result.pending == 0
    assert fake_slack.posted == 1 and len(fake_slack.calls("chat.postMessage")) == 2


async def test_slack_down_keeps_the_alert_for_the_next_cycle(world, scenario, fake_slack):
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    fake_slack.inject(Fault("chat.postMessage", status=503, times=2))  # down for two cycles
    for _ in range(2):
        result = await world.cycle(minutes_later=1)
        assert result.delivered == 0 and result.pending == 1
        assert "Slack answered HTTP 503" in (world.watcher.health.last_error or "")
    result = await world.cycle(minutes_later=1)
    assert result.pending == 0 and fake_slack.posted == 1
    assert len(fake_slack.calls("chat.postMessage")) == 3  # one try a cycle, not a burst


async def test_after_a_restart_the_same_message_is_edited(world, scenario, fake_slack):
    a_day_of_quiet_traffic(scenario)
    send(scenario, 90, 5)
    failing(scenario, 7, 4)
    await world.cycle()
    await world.restart()
    failing(scenario, 20, 0.5, at=world.now + timedelta(minutes=1))
    await world.cycle(minutes_later=1)
    assert len(posts(fake_slack)) == 1
    assert fake_slack.calls("chat.update")[-1]["ts"] == "1700000000.000001"


async def test_ingest_reads_the_settle_window_again_for_late_statuses(world, scenario):
    send(scenario, 1, 10)
    await world.cycle()
    [message] = [m for m in scenario.messages]
    message.status, message.error_code = "undelivered", 30003  # the carrier's late receipt
    await world.cycle(minutes_later=1)
    [stored] = await world.store.messages.recent(NOW - timedelta(hours=1))
    assert (stored.status, stored.error_code) == ("undelivered", 30003)


async def test_old_messages_are_pruned(world, scenario):
    send(scenario, 3, 60)
    await world.cycle()
    assert len(await world.store.messages.recent(NOW - timedelta(days=30))) == 3
    await world.cycle(minutes_later=9 * 24 * 60)
    assert await world.store.messages.recent(NOW - timedelta(days=30)) == []


async def test_a_backlog_of_old_messages_goes_a_batch_at_a_time_across_cycles(
    tuned_world, scenario
):
    """Issue 19, item 2: after days down, retention deleted a day in one transaction; now
    a cycle deletes batches for its share of time and the next goes on."""
    world = tuned_world(Tuning(prune_batch=5, prune_seconds_per_cycle=0))
    send(scenario, 12, 60)
    await world.cycle()
    month_ago = NOW - timedelta(days=30)
    assert len(await world.store.messages.recent(month_ago)) == 12
    left: list[int] = []
    for _ in range(3):
        await world.cycle(minutes_later=9 * 24 * 60 if not left else 1)
        left.append(len(await world.store.messages.recent(month_ago)))
    assert left == [7, 2, 0]


@contextmanager
def terminal_world(scenario, tmp_path, fake: FakeSlack) -> Iterator[dict[str, str]]:
    """The simulator and a fake Slack on threads, and the environment for `python -m bot`."""
    sim = Simulator(scenario)
    with serving(sim.app()) as twilio_origin, serving(fake.app()) as slack_origin:
        sim.origin = twilio_origin
        yield {
            "DATABASE_PATH": str(tmp_path / "bot.db"),
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_API_URL": slack_origin + "/api/",
            **twilio_env(sim),
        }


def test_poll_once_exit_codes(database_url, tmp_path, scenario, capsys):
    fake = FakeSlack()
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    with terminal_world(scenario, tmp_path, fake) as env:
        env["DATABASE_URL"] = database_url
        assert cli.main(["poll", "--once"], env) == 2  # no SLACK_ALERT_CHANNEL
        env["SLACK_ALERT_CHANNEL"] = CHANNEL
        fake.inject(Fault("chat.postMessage", error="channel_not_found"))
        assert cli.main(["poll", "--once"], env) == 1
        assert cli.main(["poll", "--once"], env) == 0
    out = capsys.readouterr()
    assert "missing SLACK_ALERT_CHANNEL" in out.err
    assert "Waiting because Slack: Slack refused: channel_not_found" in out.err
    assert f"To fix: Slack finds no channel {CHANNEL} that the bot can see" in out.err
    assert "30002: 0 of 0 final messages (0.0%) in the window; critical incident open." in out.out
    assert fake.posted == 1


def test_poll_once_after_the_credentials_work_again(tmp_path, scenario, capsys):
    with terminal_world(scenario, tmp_path, FakeSlack()) as env:
        env["SLACK_ALERT_CHANNEL"] = CHANNEL
        scenario.accounts[ACCOUNT_SID].auth_token = "rotated in the Console"
        assert cli.main(["poll", "--once"], env) == 1
        scenario.accounts[ACCOUNT_SID].auth_token = env["TWILIO_AUTH_TOKEN"]
        capsys.readouterr()
        assert cli.main(["poll", "--once"], env) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "Twilio took the credentials again; the incident is resolved."
    assert out[2].startswith("30002: ")


async def test_the_serving_app_watches_in_the_background(
    database_url, fake_slack, twilio_sim, scenario, tmp_path, aiohttp_client
):
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    client = await watching_app(
        aiohttp_client, fake_slack, twilio_sim, tmp_path, database_url=database_url
    )
    await fake_slack.wait_for(lambda: fake_slack.posted == 1)
    health = await (await client.get("/healthz")).json()
    assert health["status"] == "ok" and health["poller"]["account_status"] == "suspended"
    cycles = health["poller"]["cycles"]
    for _ in range(100):  # bounded: until two more cycles have run
        if app_watcher(client).health.cycles >= cycles + 2:
            break
        await asyncio.sleep(0.05)
    assert app_watcher(client).health.cycles >= cycles + 2
    assert fake_slack.posted == 1  # the same incident, never posted again


async def test_healthz_is_503_when_the_watcher_stalls(
    fake_slack, twilio_sim, tmp_path, aiohttp_client
):
    twilio_sim.latency_seconds = 3  # every Twilio call hangs
    no_grace = Tuning(first_cycle_grace_seconds=0)
    now = [datetime.now(UTC)]
    client = await watching_app(
        aiohttp_client, fake_slack, twilio_sim, tmp_path, tuning=no_grace, clock=lambda: now[0]
    )
    assert (await client.get("/healthz")).status == 200  # the first cycle has just begun
    now[0] += timedelta(seconds=0.2)  # four intervals, and no cycle has finished
    response = await client.get("/healthz")
    assert response.status == 503
    assert (await response.json())["status"] == "poller stalled"


async def test_without_an_alert_channel_nothing_is_watched(
    fake_slack, twilio_sim, tmp_path, aiohttp_client
):
    client = await aiohttp_client(bot_app.build(make_settings(fake_slack, tmp_path, twilio_sim)))
    health = await (await client.get("/healthz")).json()
    assert "poller" not in health and twilio_sim.count("Accounts") == 0


async def test_slack_posts_still_go_while_twilio_is_down(
    tuned_world, scenario, twilio_sim, fake_slack
):
    world = tuned_world(Tuning(twilio_backoff_seconds=0.01))
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    fake_slack.inject(Fault("chat.postMessage", error="not_in_channel"))
    assert (await world.cycle()).pending == 1
    twilio_sim.inject(TwilioFault(status=500, times=100))
    with pytest.raises(TwilioUnavailable):
        await world.cycle(minutes_later=1)
    assert fake_slack.posted == 1
    assert "Twilio had an internal error" in (world.watcher.health.last_error or "")


async def click(client, fake_slack, action_id: str, value: str, name: str) -> dict[str, Any]:
    body = button_click(action_id, value, fake_slack.response_url(name), user="U0ONCALL")
    assert await post_signed(client, body) == 200
    await fake_slack.wait_for(lambda: fake_slack.calls(f"response/{name}"))
    [reply] = fake_slack.calls(f"response/{name}")
    assert reply["response_type"] == "ephemeral"
    return reply


async def test_acknowledge_and_samples_buttons(
    database_url, fake_slack, twilio_sim, scenario, tmp_path, aiohttp_client
):
    failing(scenario, 1, 2, code=30002)
    client = await watching_app(
        aiohttp_client, fake_slack, twilio_sim, tmp_path, database_url=database_url
    )
    await fake_slack.wait_for(lambda: fake_slack.posted == 1)
    [alert] = posts(fake_slack)
    buttons = incident_buttons(alert)
    assert set(buttons) == {ACK_ACTION_ID, *MUTE_ACTION_IDS, SAMPLES_ACTION_ID}

    reply = await click(client, fake_slack, ACK_ACTION_ID, buttons[ACK_ACTION_ID], "ack")
    assert reply["text"] == "Done: the incident is acknowledged."
    await fake_slack.wait_for(lambda: fake_slack.calls("chat.update"))
    # The clicker's answer went first; the alert's edit after it (issue 14, item 4).
    paths = [r.path for r in fake_slack.received]
    assert paths.index("response/ack") < paths.index("chat.update")
    edit = fake_slack.calls("chat.update")[-1]
    assert edit["ts"] == "1700000000.000001"
    assert "Acknowledged by <@U0ONCALL>" in json.dumps(edit["blocks"])
    assert ACK_ACTION_ID not in incident_buttons(edit)
    await fake_slack.wait_for(lambda: posts(fake_slack, thread=True))
    [note] = posts(fake_slack, thread=True)
    assert note["text"].endswith("acknowledged by <@U0ONCALL>.")

    reply = await click(client, fake_slack, SAMPLES_ACTION_ID, buttons[SAMPLES_ACTION_ID], "s")
    [sample] = [m for m in scenario.messages if m.error_code == 30002]
    assert f"{sample.sid} · to {sample.to} · " in reply["text"]  # full number: only the clicker


async def test_a_forged_incident_button_changes_nothing(
    fake_slack, twilio_sim, tmp_path, aiohttp_client
):
    client = await watching_app(aiohttp_client, fake_slack, twilio_sim, tmp_path)
    body = button_click(ACK_ACTION_ID, "1", fake_slack.response_url("forged"))
    assert await post_signed(client, body, secret="wrong") == 401
    reply = await click(client, fake_slack, ACK_ACTION_ID, "not-a-number", "bad")
    assert reply["text"] == "That button no longer carries a valid incident or mute."


async def change_while_slack_holds(world, fake_slack, method: str) -> None:
    """A cycle whose `method` call Slack holds open while someone acknowledges the
    incident from another process (which only queues the change)."""
    fake_slack.latency_seconds = 0.5
    calls = len(fake_slack.calls(method))
    cycle = asyncio.create_task(world.cycle(minutes_later=1))
    await fake_slack.wait_for(lambda: len(fake_slack.calls(method)) > calls)
    [incident] = await world.store.incidents.open_all()
    await world.second_watcher().actions.acknowledge(incident.id, "U0ONE")
    await cycle
    # What Slack took was drawn before the change: the change itself still waits.
    waiting = [
        json.dumps(p.blocks) for p in await world.store.outbox.pending() if p.kind == "update"
    ]
    assert any("Acknowledged by <@U0ONE>" in blocks for blocks in waiting)
    fake_slack.latency_seconds = 0
    await world.cycle(minutes_later=1)


async def test_a_change_queued_while_the_alert_is_on_its_way_is_not_lost(
    world, scenario, fake_slack
):
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    await change_while_slack_holds(world, fake_slack, "chat.postMessage")
    [alert] = [m for m in fake_slack.shown.values() if not m.thread_ts]
    assert "Acknowledged by <@U0ONE>" in json.dumps(alert.blocks)
    assert world.watcher.health.pending_posts == 0


async def test_a_change_queued_while_an_edit_is_on_its_way_is_not_lost(world, scenario, fake_slack):
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    await world.cycle()
    scenario.accounts[ACCOUNT_SID].status = "closed"  # the next cycle edits the open alert
    await change_while_slack_holds(world, fake_slack, "chat.update")
    [alert] = [m for m in fake_slack.shown.values() if not m.thread_ts]
    assert "Acknowledged by <@U0ONE>" in json.dumps(alert.blocks)
    assert world.watcher.health.pending_posts == 0


async def test_a_change_to_a_post_later_in_the_round_goes_as_it_stands(world, scenario, fake_slack):
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    failing(scenario, 30, 0.5)  # and a 30003 spike: two alerts in one round
    fake_slack.latency_seconds = 0.5
    cycle = asyncio.create_task(world.cycle())
    await fake_slack.wait_for(lambda: len(fake_slack.calls("chat.postMessage")) == 1)
    [spike] = [i for i in await world.store.incidents.open_all() if i.code == 30003]
    await world.second_watcher().actions.acknowledge(spike.id, "U0ONE")  # while the first is held
    await cycle
    alerts = [m for m in fake_slack.shown.values() if not m.thread_ts]
    assert "30003" in alerts[1].text
    assert "Acknowledged by <@U0ONE>" in json.dumps(alerts[1].blocks)


async def test_a_muted_incident_is_not_edited_until_it_resolves(world, scenario, fake_slack):
    a_day_of_quiet_traffic(scenario)
    send(scenario, 90, 5)
    failing(scenario, 7, 4)
    await world.cycle()
    [incident] = await world.store.incidents.open_all()
    assert (
        await world.watcher.actions.mute(incident.id, "U0ONCALL", 1)
        == "Done: the incident is muted for 1 h."
    )
    await world.watcher.actions.deliver_queued()  # as the button's listener does after answering
    edits = len(fake_slack.calls("chat.update"))
    failing(scenario, 20, 0.5, at=world.now + timedelta(minutes=1))
    await world.cycle(minutes_later=1)  # now critical, but muted
    assert len(fake_slack.calls("chat.update")) == edits
    [note] = posts(fake_slack, thread=True)  # the mute, and no escalation note
    assert note["text"].endswith("muted for 1 h by <@U0ONCALL>.")
    for _ in range(3):
        send(scenario, 50, 0.5, at=world.now + timedelta(minutes=20))
        await world.cycle(minutes_later=20)
    assert header(fake_slack.calls("chat.update")[-1]).startswith("✅ Resolved")


async def test_a_failed_message_without_date_sent_is_seen(world, scenario, fake_slack):
    # Messages that never left Twilio, as with a suspended account, have no date_sent.
    for i in range(2):
        scenario.add_message(
            ACCOUNT_SID,
            to=f"+1202555010{i}",
            status="failed",
            error_code=30002,
            date_sent=None,
            date_created=NOW - timedelta(minutes=2, seconds=i),
        )
    result = await world.cycle()
    [reading] = [r for r in result.readings if r.code == 30002]
    assert reading.failed == 2 and reading.severity == "critical"
    assert len(posts(fake_slack)) == 1


async def test_the_walk_stops_at_the_first_page_older_than_the_window(
    scenario, twilio_sim, tuned_world
):
    world = tuned_world(Tuning(page_size=5))
    send(scenario, 30, 60 * 30)  # thirty hours ago: outside the 24 h backfill
    send(scenario, 12, 5)
    result = await world.cycle()
    assert result.ingested == 12
    # Three pages hold the twelve new ones and reach back past the window; no more.
    assert twilio_sim.count("/Messages.json") == 3


async def test_healthz_stays_200_while_twilio_fails(
    fake_slack, twilio_sim, tmp_path, aiohttp_client
):
    # Restarting the bot would not bring Twilio back: failing cycles are not a stall.
    twilio_sim.inject(TwilioFault(status=500, times=10_000))
    # An interval the slowest shared machine's failing cycle fits in, thrice over.
    quick = Tuning(twilio_backoff_seconds=0.001)
    client = await watching_app(aiohttp_client, fake_slack, twilio_sim, tmp_path, "0.3", quick)
    finished: set[float] = set()
    for _ in range(200):  # bounded: until three failed cycles have ended
        if (last := app_watcher(client).health.last_finished) is not None:
            finished.add(last)
        if len(finished) >= 3:
            break
        await asyncio.sleep(0.02)
    assert len(finished) >= 3
    response = await client.get("/healthz")
    body = await response.json()
    assert response.status == 200
    assert body["poller"]["last_cycle_failed"] is True
    facts = dict((await app_watcher(client).actions.status()).facts())
    assert "Twilio had an internal error" in facts["Last error"]


async def test_a_second_watcher_on_the_same_database_stands_by(world, scenario, fake_slack):
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    await world.cycle()
    other = world.second_watcher()
    with pytest.raises(WatcherBusy):
        await other.cycle()
    await world.cycle(minutes_later=1)  # the holder carries on
    assert fake_slack.posted == 1


async def test_a_refused_post_is_given_up_after_five_tries_and_blocks_no_other(
    world, scenario, fake_slack
):
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    fake_slack.inject(Fault("chat.postMessage", error="invalid_blocks", times=5))
    for _ in range(5):
        await world.cycle(minutes_later=1)
    assert world.watcher.health.refused_posts == 1
    failing(scenario, 30, 0.5, at=world.now + timedelta(minutes=1))  # a 30003 spike
    await world.cycle(minutes_later=1)
    [alert] = posts(fake_slack)[-1:]
    assert header(alert).startswith("🔴 Critical: 30003")


async def test_status_shows_health_codes_and_incidents_with_links(
    fake_slack, twilio_sim, scenario, tmp_path, aiohttp_client
):
    failing(scenario, 1, 2, code=30002)
    client = await watching_app(aiohttp_client, fake_slack, twilio_sim, tmp_path)
    await fake_slack.wait_for(lambda: fake_slack.posted == 1)
    # The alert goes out mid-cycle; status reports on cycles that have ended.
    await until(lambda: app_watcher(client).health.cycles >= 1)
    body = slash_command("status", fake_slack.response_url("status"))
    assert await post_signed(client, body) == 200
    await fake_slack.wait_for(lambda: fake_slack.calls("response/status"))
    [reply] = fake_slack.calls("response/status")
    content = texts(reply["blocks"])
    assert reply["text"] == f"Twilio account {ACCOUNT_SID} · active"
    assert "*Last poll*\n" in content and "*Last error*\nnone" in content
    assert "30002: 100.0% of 1 in the window" in content
    assert "30003: 0.0% of 1 in the window" in content
    assert "critical · 30002 · open since" in content
    assert f"https://example.slack.com/archives/{CHANNEL}/p1700000000000001" in content


def test_status_in_the_terminal_without_a_watcher(capsys, tmp_path):
    assert cli.main(["status"], {"DATABASE_PATH": str(tmp_path / "b.db")}) == 2
    assert "The watcher is not set up here" in capsys.readouterr().err


def test_status_in_the_terminal_reads_what_the_last_cycle_left(tmp_path, scenario, capsys):
    with terminal_world(scenario, tmp_path, FakeSlack()) as env:
        env["SLACK_ALERT_CHANNEL"] = CHANNEL
        assert cli.main(["poll", "--once"], env) == 0
        capsys.readouterr()
        assert cli.main(["status"], env) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Twilio account {ACCOUNT_SID} · active")
    assert "Open incidents\n  None." in out


async def test_a_standing_by_watcher_is_not_stalled(world, scenario):
    await world.cycle()
    other = world.second_watcher()
    with pytest.raises(WatcherBusy):
        await other.cycle()
    assert not other.health.stalled(other.health.last_finished + 1, 60, grace=0)


async def test_a_button_in_a_process_without_the_lease_shows_its_change_once(
    world, scenario, fake_slack
):
    """Issue 16: any replica answers buttons, and sends what the click queued at once;
    the claim on each post keeps the watcher's next cycle from sending it again."""
    failing(scenario, 1, 2, code=30002)
    await world.cycle()
    [incident] = await world.store.incidents.open_all()
    other = world.second_watcher()
    assert (
        await other.actions.acknowledge(incident.id, "U0ONE")
        == "Done: the incident is acknowledged."
    )
    assert await other.actions.acknowledge(incident.id, "U0TWO") == (
        "It was already acknowledged by <@U0ONE>."
    )
    assert await other.actions.deliver_queued() == 2  # the edit, and the note in its thread
    assert "Acknowledged by <@U0ONE>" in json.dumps(fake_slack.calls("chat.update")[-1])
    calls = len(fake_slack.received)
    await world.cycle(minutes_later=1)
    assert len(fake_slack.received) == calls  # nothing sent twice


async def test_two_acknowledgements_at_the_same_moment_one_wins(world, scenario, fake_slack):
    """Review of issue 15: the 'already acknowledged' check read the incident before the
    write, so two clicks at once were both done and both noted in the thread."""
    failing(scenario, 1, 2, code=30002)
    await world.cycle()
    [incident] = await world.store.incidents.open_all()
    assert incident.id is not None
    answers = await asyncio.gather(
        world.watcher.actions.acknowledge(incident.id, "U0ONE"),
        world.watcher.actions.acknowledge(incident.id, "U0TWO"),
    )
    [record] = await world.store.incidents.open_all()
    winner = record.acknowledged_by
    assert winner in ("U0ONE", "U0TWO")  # whichever the store took first
    assert sorted(answers) == [
        "Done: the incident is acknowledged.",
        f"It was already acknowledged by <@{winner}>.",
    ]
    notes = [p for p in await world.store.outbox.pending() if p.kind == "reply"]
    assert len(notes) == 1 and notes[0].text.endswith(f"acknowledged by <@{winner}>.")


async def test_after_a_post_is_given_up_its_notes_are_not_left_waiting(world, scenario, fake_slack):
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    fake_slack.inject(Fault("chat.postMessage", error="msg_too_long", times=100))
    for _ in range(5):
        await world.cycle(minutes_later=1)
    scenario.accounts[ACCOUNT_SID].status = "active"
    for _ in range(3):  # resolves: an edit and a note are queued for a message never posted
        result = await world.cycle(minutes_later=1)
    assert result.pending == 0 and world.watcher.health.refused_posts == 1


async def test_a_walk_longer_than_a_save_batch_stores_every_message_once(
    scenario, twilio_sim, tuned_world
):
    world = tuned_world(Tuning(page_size=4, save_batch=6))
    send(scenario, 23, 5)  # six pages, saved in batches that straddle them
    result = await world.cycle()
    assert result.ingested == 23
    stored = {sid for (sid,) in await rows(world.store, "select sid from messages")}
    assert stored == {m.sid for m in scenario.messages}
    assert twilio_sim.count("/Messages.json") == 6


async def test_why_counts_the_watched_hour_from_the_store_and_names_the_incident(
    world, scenario, twilio_sim
):
    """Issue 13, item 8: with the watcher's records covering the hour, `why SM…` counts
    the whole hour there (not Twilio's latest 1 000) and names the incident it belongs to."""
    a_day_of_quiet_traffic(scenario)
    send(scenario, 90, 5)
    failing(scenario, 10, 4)
    await world.cycle()
    [incident] = await world.store.incidents.open_all()
    service = Service(
        world.watcher.curated,
        world.store,
        POLICY,
        world.twilio,
        clock=lambda: world.now,
        alert_window=world.settings.thresholds.window,
    )
    target = next(m for m in reversed(scenario.messages) if m.error_code == 30003)
    listed_before = [r for r in twilio_sim.received if r.path.endswith("/Messages.json")]
    report = await service.explain_message(target.sid)
    account = report.account
    assert account is not None and account.from_store
    hour = await world.store.messages.tally([30003], [world.now - timedelta(hours=1), world.now])
    assert account.final == sum(n for _, _, n in hour)
    assert account.failed == sum(n for _, code, n in hour if code == 30003) == 11
    assert account.scope().startswith("every message the watcher recorded from ")
    # Only the recipient's history was listed; the account's hour came from the store.
    listed = [r for r in twilio_sim.received if r.path.endswith("/Messages.json")]
    assert all("To" in r.query for r in listed[len(listed_before) :])
    assert report.incident is not None and report.incident.opened_at == incident.opened_at
    assert report.incident.line().startswith("An incident on 30003 is open: critical, since")


async def test_why_without_a_current_watcher_says_what_twilio_listed(world, scenario):
    a_day_of_quiet_traffic(scenario)
    failing(scenario, 1, 4)
    await world.cycle()
    later = world.now + timedelta(minutes=10)  # the watcher has not read for 10 min
    service = Service(world.watcher.curated, world.store, POLICY, world.twilio, clock=lambda: later)
    target = next(m for m in reversed(scenario.messages) if m.error_code == 30003)
    report = await service.explain_message(target.sid)
    assert report.account is not None and not report.account.from_store
    assert report.account.scope().startswith(f"the {report.account.listed} messages Twilio listed")


async def test_a_baseline_younger_than_a_week_says_how_much_history_it_has(
    world, scenario, fake_slack
):
    a_day_of_quiet_traffic(scenario)
    send(scenario, 90, 5)
    failing(scenario, 7, 4)
    await world.cycle()
    [alert] = posts(fake_slack)
    # A day read back (BACKFILL_HOURS), less the window and the settle minutes.
    assert "*Baseline (23 h of history)*\n1.0%" in texts(alert["blocks"])
    report = await world.watcher.actions.status()
    assert any("baseline 1.0% over 23 h of history" in line for line in report.sections()[0].items)


async def test_an_escalation_while_muted_is_shown_when_the_mute_runs_out(
    world, scenario, fake_slack
):
    """Review of issue 13: the message kept the old severity after the mute ended."""
    a_day_of_quiet_traffic(scenario)
    send(scenario, 90, 5)
    failing(scenario, 7, 4)
    await world.cycle()
    [incident] = await world.store.incidents.open_all()
    await world.watcher.actions.mute(incident.id, "U0ONCALL", 1)
    await world.watcher.actions.deliver_queued()
    failing(scenario, 20, 0.5, at=world.now + timedelta(minutes=1))
    await world.cycle(minutes_later=1)  # critical now, but muted: no edit
    assert "Muted until" in json.dumps(fake_slack.calls("chat.update")[-1]["blocks"])
    edits = len(fake_slack.calls("chat.update"))
    for cycle in range(6):  # still spiking, as flat as it gets; the mute ends in the last
        failing(scenario, 20, 0.5, at=world.now + timedelta(minutes=10))
        send(scenario, 140, 0.5, at=world.now + timedelta(minutes=10))
        await world.cycle(minutes_later=10)
        if cycle < 5:
            assert len(fake_slack.calls("chat.update")) == edits
    latest = fake_slack.calls("chat.update")[-1]
    assert header(latest).startswith("🔴 Critical: 30003")
    assert "Muted until" not in json.dumps(latest["blocks"])
    notes = [n["text"] for n in posts(fake_slack, thread=True)]
    assert any("after the mute, critical" in n for n in notes)


async def test_coverage_is_what_the_watcher_read_without_a_gap(world, scenario):
    """Messages `why SM…` stored before the first cycle are not history the watcher read;
    a gap longer than the reads restarts the span."""
    old = world.now - timedelta(days=6)
    await world.store.messages.save(
        [
            Message(
                "SM" + "1" * 32,
                "delivered",
                "+12025550100",
                "+15005550006",
                "outbound-api",
                date_created=old,
                date_sent=old,
            )
        ]
    )
    send(scenario, 10, 5)
    await world.cycle()
    held = await world.store.watcher.coverage()
    assert held is not None and held.since == world.now - world.settings.backfill
    assert held.through == world.now
    await world.cycle(minutes_later=1)
    assert (await world.store.watcher.coverage()).since == held.since  # contiguous: the span grows
    await world.cycle(minutes_later=3 * 24 * 60)  # down for three days, longer than a backfill
    after = await world.store.watcher.coverage()
    assert after.since == world.now - world.settings.backfill and after.through == world.now


def test_coverage_is_current_only_while_cycles_keep_coming():
    from bot.store import Coverage

    now = NOW
    held = Coverage(now - timedelta(hours=3), now - timedelta(minutes=2), 60)
    assert held.covers(now - timedelta(hours=1), now)
    assert not held.covers(now - timedelta(hours=4), now)  # older than what was read
    late = Coverage(now - timedelta(hours=3), now - timedelta(minutes=4), 60)
    assert not late.covers(now - timedelta(hours=1), now)  # two cycles and a minute missed


async def test_a_replayed_mute_click_mutes_once(
    fake_slack, twilio_sim, scenario, tmp_path, aiohttp_client
):
    failing(scenario, 1, 2, code=30002)
    client = await watching_app(aiohttp_client, fake_slack, twilio_sim, tmp_path)
    await fake_slack.wait_for(lambda: fake_slack.posted == 1)
    [action_id] = [a for a in MUTE_ACTION_IDS if MUTE_ACTION_IDS[a] == 1]
    value = incident_buttons(posts(fake_slack)[0])[action_id]
    for name in ("first", "copy"):
        url = fake_slack.response_url(name)
        body = button_click(action_id, value, url, user="U0ONCALL", trigger_id="7.7.7")
        assert await post_signed(client, body) == 200
        await fake_slack.wait_for(lambda name=name: fake_slack.calls(f"response/{name}"))
    assert fake_slack.calls("response/first")[0]["text"] == "Done: the incident is muted for 1 h."
    assert fake_slack.calls("response/copy")[0]["text"].startswith("That click was handled")
    await fake_slack.wait_for(lambda: posts(fake_slack, thread=True))
    assert [n["text"].split(": ", 1)[1] for n in posts(fake_slack, thread=True)] == [
        "muted for 1 h by <@U0ONCALL>."
    ]


async def test_healthz_tells_status_and_counts_never_identifiers(
    fake_slack, twilio_sim, scenario, tmp_path, aiohttp_client
):
    """Issue 14, item 9: /healthz, open to anyone, showed the Account SID and channel ID."""
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    fake_slack.inject(Fault("chat.postMessage", error="channel_not_found", times=10_000))
    client = await watching_app(aiohttp_client, fake_slack, twilio_sim, tmp_path)
    await fake_slack.wait_for(lambda: len(fake_slack.calls("chat.postMessage")) >= 2)
    text = await (await client.get("/healthz")).text()
    assert ACCOUNT_SID not in text and CHANNEL not in text
    assert json.loads(text)["poller"]["slack_needs_fix"] is True
    facts = dict((await app_watcher(client).actions.status()).facts())
    assert CHANNEL in facts["Slack needs a fix"]


async def test_a_full_disk_is_named_in_health_status_answers_and_the_log(
    fake_slack, twilio_sim, scenario, tmp_path, aiohttp_client, caplog
):
    """Issue 14, item 10: a full disk showed as 'poller stalled' with no error, and
    commands said only 'Something went wrong'."""
    client = await watching_app(aiohttp_client, fake_slack, twilio_sim, tmp_path, "3600")
    watcher = app_watcher(client)
    await watcher.cycle_safely()
    # SQLite's own way to a full disk: no page may be added to the file.
    [(pages,)] = await on_writer(watcher.store, "PRAGMA page_count")
    await on_writer(watcher.store, f"PRAGMA max_page_count = {pages}")
    send(scenario, 3000, 1)
    with caplog.at_level(logging.ERROR, logger="bot.watcher"):
        assert await watcher.cycle_safely() is None
    fix = "the disk holding DATABASE_PATH is full: free space on it"
    assert fix in (watcher.health.database_problem or "")
    assert any(fix in r.getMessage() for r in caplog.records)
    response = await client.get("/healthz")
    assert response.status == 503
    assert (await response.json())["status"] == "database failing"
    # A command whose answer needs a write says what is wrong too, not "something".
    await on_writer(watcher.store, "PRAGMA query_only = ON")
    body = slash_command(f"why {scenario.messages[-1].sid}", fake_slack.response_url("why"))
    assert await post_signed(client, body) == 200
    await fake_slack.wait_for(lambda: fake_slack.calls("response/why"))
    assert fake_slack.calls("response/why")[0]["text"] == (
        "The bot's database is failing (attempt to write a readonly database): the "
        "database is read-only to the bot: give its user write access."
    )
    await on_writer(watcher.store, "PRAGMA query_only = OFF")
    await on_writer(watcher.store, "PRAGMA max_page_count = 1073741823")  # space again
    assert await watcher.cycle_safely() is not None
    assert watcher.health.database_problem is None
    assert (await client.get("/healthz")).status == 200


async def test_with_a_database_that_cannot_be_written_buttons_still_answer_and_say_why(
    fake_slack, twilio_sim, scenario, tmp_path, aiohttp_client
):
    """Review of issue 14: the click-replay check wrote to the database outside the
    listener's guard, so Share, Acknowledge and Mute went unanswered."""
    failing(scenario, 1, 2, code=30002)
    client = await watching_app(aiohttp_client, fake_slack, twilio_sim, tmp_path, "3600")
    await fake_slack.wait_for(lambda: fake_slack.posted == 1)
    buttons = incident_buttons(posts(fake_slack)[0])
    await on_writer(app_watcher(client).store, "PRAGMA query_only = ON")
    body = button_click(ACK_ACTION_ID, buttons[ACK_ACTION_ID], fake_slack.response_url("ack"))
    assert await post_signed(client, body) == 200
    await fake_slack.wait_for(lambda: fake_slack.calls("response/ack"))
    assert fake_slack.calls("response/ack")[0]["text"].startswith(
        "The bot's database is failing (attempt to write a readonly database)"
    )
    await on_writer(app_watcher(client).store, "PRAGMA query_only = OFF")


async def test_status_names_the_database_problem_the_last_cycle_met(tuned_world, scenario):
    """Review of issue 14: /twilio status read the health the failing database could not
    write, and said 'Last error: none'."""
    world = tuned_world(Tuning(twilio_backoff_seconds=0.01))  # Twilio fails at the end
    await world.cycle()
    await on_writer(world.store, "PRAGMA query_only = ON")
    assert await world.watcher.cycle_safely() is None
    await on_writer(world.store, "PRAGMA query_only = OFF")
    facts = dict((await world.watcher.actions.status()).facts())
    assert facts["Database"].startswith("The bot's database is failing (")
    assert "give its user write access" in facts["Database"]
    # Once the database takes writes again, a cycle failing for another reason does not
    # keep blaming it.
    world.twilio.http.origin = "http://127.0.0.1:9"  # Twilio unreachable
    assert await world.watcher.cycle_safely() is None
    assert world.watcher.health.database_problem is None


async def test_healthz_is_503_not_500_when_the_database_cannot_be_read(
    fake_slack, twilio_sim, tmp_path, aiohttp_client
):
    client = await watching_app(aiohttp_client, fake_slack, twilio_sim, tmp_path, "3600")
    await on_writer(app_watcher(client).store, "drop table dictionary")  # a damaged page, in effect
    response = await client.get("/healthz")
    assert response.status == 503 and (await response.json())["status"] == "database failing"


async def test_a_first_backfill_larger_than_a_cycle_reads_on_in_the_next_cycles(
    tuned_world, scenario
):
    """Issue 19, item 2: the first backfill stopped at max_pages and never read the rest
    (a 1 M/day account started with 6 of its 24 hours); now the cycles after it read on,
    `backfill_pages` a cycle, and say meanwhile how far back the history goes."""
    world = tuned_world(Tuning(page_size=100, max_pages=3, backfill_pages=5))
    a_day_of_quiet_traffic(scenario)  # 23 hours of 100 messages, an hour apart
    first = await world.cycle()
    assert first.ingested == 300  # the newest three hours
    coverage = await world.store.watcher.coverage()
    assert coverage is not None and coverage.reading_back is not None
    assert NOW - timedelta(hours=3, minutes=1) <= coverage.since <= NOW - timedelta(hours=3)
    assert coverage.reading_back.down_to == NOW - timedelta(hours=24)
    # The baseline says it rests on the little read so far, and status says why.
    status = await world.watcher.actions.status()
    assert any("over 2 h of history" in line for line in status.sections()[0].items)
    facts = dict(status.facts())
    assert facts["History"].startswith("3 h of the last 24 h stored, to ")
    assert facts["History"].endswith("; reading back more each cycle")

    cycles = 0
    while coverage.reading_back is not None:
        # Messages keep arriving at the head of the list while the cycles read back.
        send(scenario, 20, 0, at=world.now)
        await world.cycle(minutes_later=1)
        coverage = await world.store.watcher.coverage()
        assert coverage is not None
        cycles += 1
        assert cycles <= 4
    assert cycles == 4  # 2 000 older messages, 500 a cycle
    assert coverage.since == NOW - timedelta(hours=24)
    stored = await world.store.messages.recent(NOW - timedelta(days=2))
    assert sorted(m.sid for m in stored) == sorted(m.sid for m in scenario.messages)
    assert "History" not in dict((await world.watcher.actions.status()).facts())


@pytest.mark.parametrize(
    "fault, kept",
    [
        # Twilio fails the page every attempt: tried again next cycle, from the same page.
        (TwilioFault(status=500, times=5), True),
        # Twilio refuses the page it named: given up; the history held is what was read.
        (TwilioFault(status=400), False),
        # An empty page and no next: whether more is left is unknown, so given up too.
        (TwilioFault(status=0, body='{"messages": []}'), False),
    ],
)
async def test_a_reading_back_that_fails_leaves_the_cycle_to_measure(
    tuned_world, scenario, twilio_sim, fake_slack, fault, kept
):
    """Review of issue 19: a failure while reading back stopped the whole cycle, and an
    early end of the list was taken for having read back all the way."""
    world = tuned_world(Tuning(page_size=100, max_pages=3, backfill_pages=5))
    a_day_of_quiet_traffic(scenario)
    await world.cycle()
    before = await world.store.watcher.coverage()
    assert before is not None and before.reading_back is not None
    # The page the reading back goes on from, and no other.
    token = before.reading_back.next_page.partition("PageToken=")[2].partition("&")[0]
    twilio_sim.inject(replace(fault, path_contains=f"PageToken={token}"))
    send(scenario, 90, 0.5, at=world.now + timedelta(minutes=1))
    failing(scenario, 7, 0.5, at=world.now + timedelta(minutes=1))
    result = await world.cycle(minutes_later=1)
    assert [r.code for r in result.readings] == [30002, 30003]  # measured all the same
    assert result.readings[1].failed == 7 and len(posts(fake_slack)) == 1
    after = await world.store.watcher.coverage()
    assert after is not None and after.since == before.since  # claims no more than read
    assert (after.reading_back == before.reading_back) is kept
    assert (after.reading_back is None) is not kept
    await world.cycle(minutes_later=1)
    done = await world.store.watcher.coverage()
    assert done is not None
    history = dict((await world.watcher.actions.status()).facts())["History"]
    if kept:  # the next cycle goes on where the failed one would have
        assert done.since < before.since and done.reading_back is not None
        assert history.endswith("reading back more each cycle")
    else:  # and status keeps saying the history is short
        assert done.since == before.since and done.reading_back is None
        assert history.endswith("Twilio did not give the older messages (see the log)")


async def test_a_first_walk_that_ends_early_claims_only_what_it_read(
    tuned_world, scenario, twilio_sim
):
    """Review of issue 19: an empty page with no next part of the way through the first
    walk was taken for the list's end, and the coverage claimed all of BACKFILL_HOURS."""
    world = tuned_world(Tuning(page_size=100, max_pages=30))
    a_day_of_quiet_traffic(scenario)
    twilio_sim.inject(TwilioFault(status=0, body='{"messages": []}', path_contains="PageToken="))
    first = await world.cycle()
    assert first.ingested == 100  # one page, then an empty one
    coverage = await world.store.watcher.coverage()
    assert coverage is not None and coverage.reading_back is None
    assert NOW - timedelta(hours=1, minutes=1) <= coverage.since <= NOW - timedelta(hours=1)
    history = dict((await world.watcher.actions.status()).facts())["History"]
    assert history.startswith("61 min of the last 24 h stored, to ")
    assert history.endswith("Twilio did not give the older messages (see the log)")


async def test_the_history_never_reaches_past_retention(tuned_world, scenario, twilio_sim):
    """Review of issue 19: the coverage could claim messages retention had pruned."""
    world = tuned_world(Tuning())
    world.config = replace(world.config, retention=timedelta(hours=5))
    world.watcher = world._watcher()
    a_day_of_quiet_traffic(scenario)
    await world.cycle()
    coverage = await world.store.watcher.coverage()
    assert coverage is not None and coverage.since == NOW - timedelta(hours=5)
    stored = await world.store.messages.recent(NOW - timedelta(days=2))
    assert stored and all(
        m.date_created is not None and m.date_created >= NOW - timedelta(hours=5) for m in stored
    )
    assert "History" not in dict((await world.watcher.actions.status()).facts())


async def test_a_cycle_longer_than_its_lease_keeps_it(world, scenario):
    """Review of issue 16: a standby may take a lease that ran out even while its holder
    keeps the lock, so a holder whose Twilio reads outlast the lease renews it before it
    decides anything."""
    failing(scenario, 1, 2, code=30002)
    standby = world.second_watcher()
    ingest = world.watcher.ingest.run

    async def slow_ingest(now: datetime, every_seconds: float | None = None) -> int:
        read = await ingest(now, every_seconds)
        world.now += timedelta(minutes=10)  # Twilio took longer than the lease lasts
        return read

    world.watcher.ingest.run = slow_ingest
    result = await world.cycle()
    assert any(step.incident is not None for step in result.steps)  # decided, not fenced
    lease = timedelta(minutes=1)
    assert await world.store.watcher.take_lease(standby.owner, world.now, lease) is None


class _DatabaseFailsOnceSlackTakesIt:
    """The alert channel, through the real poster, whose database stops taking writes in
    the instant after Slack took a post: the record of it fails."""

    def __init__(self, poster: Any, store: Any) -> None:
        self.poster, self.store = poster, store

    async def post(self, *args: Any, **kwargs: Any) -> Any:
        posted = await self.poster.post(*args, **kwargs)
        await on_writer(self.store, "PRAGMA query_only = ON")
        return posted

    async def update(self, *args: Any) -> None:
        await self.poster.update(*args)

    async def permalink(self, channel: str, ts: str) -> str | None:
        return str(await self.poster.permalink(channel, ts))


async def test_a_post_slack_took_while_the_database_failed_is_recorded_not_sent_again(
    fake_slack, twilio_sim, scenario, tmp_path
):
    """Second review of issue 16: the record failed, the claim lapsed, and the alert went
    out again. Delivery keeps what Slack took and records it before sending anything."""
    from bot.errors import StoreError
    from bot.watcher.delivery import Delivery

    world = World(fake_slack, twilio_sim, tmp_path)  # SQLite: the fault is a PRAGMA
    try:
        scenario.accounts[ACCOUNT_SID].status = "suspended"
        fake_slack.inject(Fault("chat.postMessage", status=503))
        assert (await world.cycle()).pending == 1
        flaky = _DatabaseFailsOnceSlackTakesIt(world.watcher.delivery.poster, world.store)
        delivery = Delivery(world.store, flaky, CHANNEL, world.watcher.health, lambda: world.now)
        with pytest.raises(StoreError, match=r"read-only|readonly"):
            await delivery.deliver()
        assert fake_slack.posted == 1
        await on_writer(world.store, "PRAGMA query_only = OFF")
        world.now += timedelta(minutes=10)  # past CLAIM_SECONDS: the claim has lapsed
        assert await delivery.deliver() == 0
        assert fake_slack.posted == 1 and await world.store.outbox.pending() == []
        [incident] = await world.store.incidents.open_all()
        assert incident.id is not None
        record = await world.store.incidents.record(incident.id)
        assert record is not None and record.posted is not None  # where the alert is, kept
    finally:
        await world.close()
