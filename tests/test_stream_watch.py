"""The watcher fed by Event Streams (issue 18, item 1): the stream raises the incident
polling would, sooner, without reading the Messages list; while it delivers, the list is
only swept, and health says what the sweep found that the stream had not sent."""

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.event_streams.cloudevents import read_batch
from bot.simulation.event_streams import STATUS_TYPES, status_event
from bot.simulation.scenario import make_sid
from bot.tuning import Tuning
from tests.conftest import ACCOUNT_SID
from tests.support import until
from tests.watching import (
    PUBLIC_URL,
    World,
    a_day_of_quiet_traffic,
    app_watcher,
    failing,
    header,
    posts,
    send,
    sink_app,
)


def _spike(scenario, at: datetime) -> list[dict[str, object]]:
    """97 messages over the minutes before `at`, 7 of them undelivered with 30003 to
    seven recipients (a warning), as the events Twilio would push: `sent`, then the
    receipt, each twice, in no order."""
    events = []
    for i in range(97):
        moment = at - timedelta(minutes=5, seconds=-i * 3)
        m = scenario.add_message(
            ACCOUNT_SID, to=f"+1202777{i:04d}", status="sent", date_created=moment
        )
        events.append(status_event(m, moment))
        m.status, m.error_code = ("undelivered", 30003) if i < 7 else ("delivered", None)
        events.append(status_event(m, moment + timedelta(seconds=20)))
    events *= 2
    random.Random(7).shuffle(events)
    return events


async def test_pushed_failures_raise_the_incident_at_once_without_reading_the_list(
    database_url, fake_slack, twilio_sim, scenario, tmp_path, aiohttp_client
):
    """The poll interval is an hour: only the stream's push can bring the spike in, and
    the watcher's next cycle comes from the nudge, not the beat. The alert is the one a
    poll of the same messages raises (the World below)."""
    a_day_of_quiet_traffic(scenario)
    client = await sink_app(aiohttp_client, fake_slack, twilio_sim, tmp_path, database_url)
    watcher = app_watcher(client)
    await until(lambda: watcher.health.last_finished is not None)
    assert watcher.health.last_error is None, watcher.health.last_error
    reads = twilio_sim.count("/Messages.json")
    sink = twilio_sim.event_streams.add_webhook(
        ACCOUNT_SID, PUBLIC_URL + "/twilio/events", STATUS_TYPES
    )
    events = _spike(scenario, datetime.now(UTC))
    for i in range(0, len(events), 100):
        assert (await twilio_sim.event_streams.push(sink, events[i : i + 100])).status == 200
    await fake_slack.wait_for(lambda: posts(fake_slack))
    [alert] = posts(fake_slack)
    assert header(alert) == "🟠 Warning: 30003 Unreachable destination handset"
    assert twilio_sim.count("/Messages.json") == reads  # the stream, not the list
    assert watcher.health.events_live
    health = await (await client.get("/healthz")).json()
    assert health["poller"]["events_live"] is True
    assert 0 <= health["poller"]["events_age_seconds"] < 60


async def test_a_pushed_suspension_wakes_the_watcher_whatever_alert_codes_says(
    database_url, fake_slack, twilio_sim, scenario, tmp_path, aiohttp_client
):
    """Review of issue 18: the sink woke the watcher only for ALERT_CODES, though 30002
    (the account suspended) is watched whatever that setting says."""
    client = await sink_app(
        aiohttp_client, fake_slack, twilio_sim, tmp_path, database_url, ALERT_CODES="30003"
    )
    watcher = app_watcher(client)
    await until(lambda: watcher.health.last_finished is not None)
    cycles = watcher.health.cycles
    sink = twilio_sim.event_streams.add_webhook(
        ACCOUNT_SID, PUBLIC_URL + "/twilio/events", STATUS_TYPES
    )
    now = datetime.now(UTC)
    m = scenario.add_message(
        ACCOUNT_SID,
        to="+12025550100",
        status="failed",
        error_code=30002,
        date_created=now - timedelta(seconds=5),
    )
    assert (await twilio_sim.event_streams.push(sink, [status_event(m, now)])).status == 200
    await until(lambda: watcher.health.cycles > cycles)  # the beat is an hour away


async def test_polling_the_same_spike_raises_the_same_alert(
    fake_slack, twilio_sim, scenario, tmp_path
):
    a_day_of_quiet_traffic(scenario)
    world = await World(fake_slack, twilio_sim, tmp_path).open()
    try:
        world.now = datetime.now(UTC).replace(microsecond=0)
        _spike(scenario, world.now)
        await world.cycle()
        [alert] = posts(fake_slack)
        assert header(alert) == "🟠 Warning: 30003 Unreachable destination handset"
    finally:
        await world.close()


@pytest.fixture
async def world(database_url, fake_slack, twilio_sim, tmp_path):
    w = await World(fake_slack, twilio_sim, tmp_path, DATABASE_URL=database_url).open()
    yield w
    await w.close()


async def _stream(world, messages) -> None:
    """What the sink stores of `messages`' current statuses, at the world's now."""
    events = [status_event(m, world.now, make_sid("EZ", m.sid, world.now)) for m in messages]
    body = json.dumps(events).encode()
    await world.store.messages.record_reports(read_batch(body, world.now).reports, world.now)


async def test_while_the_stream_delivers_the_list_is_only_swept(world, scenario, twilio_sim):
    """EVENTS_SWEEP_MINUTES (15 by default): cycles between sweeps read no list; the sweep
    reads it, and health counts the final statuses it found that the stream never sent."""
    send(scenario, 20, 30, at=world.now)
    await world.cycle()  # polling: nothing has come from a stream yet
    assert not world.watcher.health.events_live
    seen = scenario.messages[-5:]
    await _stream(world, seen)
    reads = twilio_sim.count("/Messages.json")
    for _ in range(3):
        await world.cycle(minutes_later=1)
        assert world.watcher.health.events_live
    assert twilio_sim.count("/Messages.json") == reads
    # Three messages the stream never delivered, and the stream going on.
    send(scenario, 3, 0, at=world.now, status="undelivered", error_code=30003)
    for _ in range(12):
        await _stream(world, seen[:1])  # a fresh event each minute: the stream goes on
        await world.cycle(minutes_later=1)
        assert world.watcher.health.events_received == world.now.timestamp() - 60
    assert twilio_sim.count("/Messages.json") > reads  # the sweep, 15 minutes on
    assert world.watcher.health.sweep_found == 3
    assert world.watcher.health.sweep_found_total == 3
    # Once the stream falls silent for the sweep's span, the list is read every cycle.
    world.now += timedelta(minutes=16)
    before = twilio_sim.count("/Messages.json")
    await world.cycle()
    await world.cycle(minutes_later=1)
    assert not world.watcher.health.events_live
    assert twilio_sim.count("/Messages.json") >= before + 2


async def test_a_history_read_back_goes_on_every_cycle_while_the_stream_delivers(
    fake_slack, twilio_sim, scenario, tmp_path
):
    """Review of issue 18: with the stream on, the history a first cycle could not read
    whole was read one slice a sweep (17 h for a week at 1 M a day), and each slice was
    counted as statuses the stream had missed."""
    world = await World(
        fake_slack, twilio_sim, tmp_path, Tuning(page_size=25, max_pages=1, backfill_pages=1)
    ).open()
    try:
        for hour in range(1, 5):
            send(scenario, 25, hour * 60, at=world.now)
        await world.cycle()  # the newest 25; the rest is left to read back
        assert world.watcher.health.history_reading_back
        swept = world.now
        await _stream(world, scenario.messages[:1])
        pages = twilio_sim.count("/Messages.json")
        for cycle in range(1, 4):
            await world.cycle(minutes_later=1)
            assert world.watcher.health.events_live
            assert twilio_sim.count("/Messages.json") == pages + cycle  # a slice a cycle
            # The head was not read: what `why` may count still ends at the last sweep.
            held = await world.store.watcher.coverage()
            assert held is not None and held.through == swept
        assert not world.watcher.health.history_reading_back
        assert world.watcher.health.sweep_found is None  # no sweep yet, nothing "missed"
        assert world.watcher.health.sweep_found_total == 0
    finally:
        await world.close()


async def test_an_early_cycle_opens_an_incident_but_leaves_the_rest_to_the_beat(
    world, scenario, fake_slack
):
    """Review of issue 18: a nudge's early cycles counted towards ALERT_RESOLVE_AFTER,
    so under a steady stream of failures incidents resolved in seconds and flapped."""
    a_day_of_quiet_traffic(scenario)
    send(scenario, 90, 5, at=world.now)
    failing(scenario, 7, 4, at=world.now)
    await world.watcher.cycle(early=True)
    [alert] = posts(fake_slack)
    assert header(alert) == "🟠 Warning: 30003 Unreachable destination handset"
    send(scenario, 400, 1, at=world.now + timedelta(minutes=10))  # recovered
    world.now += timedelta(minutes=10)
    for _ in range(6):
        world.now += timedelta(seconds=30)
        await world.watcher.cycle(early=True)
    assert not any("Resolved" in header(c) for c in fake_slack.calls("chat.update"))
    for _ in range(4):
        await world.cycle(minutes_later=1)
    assert any("Resolved" in header(c) for c in fake_slack.calls("chat.update"))
