"""Detection per segment through the real watcher: an outage in one country, too small to
move the account's rate past its rule, is alerted once, named by its country, against its
own baseline, and resolved when it recovers; on either backend."""

import itertools
from datetime import timedelta

import pytest

from bot.domain import spikes
from bot.domain.segments import Segment, SegmentKind
from tests.watching import CHANNEL, World, header, incident_buttons, posts, send

US = itertools.count()
GB = itertools.count()
US_SENT = itertools.count()


def to_us() -> str:
    return f"+1202555{next(US) % 10_000:04d}"


def to_gb() -> str:
    return f"+4474001{next(GB) % 100_000:05d}"


def minute(scenario, minutes_ago: float, us: int, gb: int, gb_failing: bool) -> None:
    """A minute of traffic: `us` messages to the US (one in a hundred failing with 30003),
    `gb` to the United Kingdom, all failing or all delivered."""
    for _ in range(us):
        fails = next(US_SENT) % 100 == 99
        send(
            scenario,
            1,
            minutes_ago,
            to=to_us(),
            status="undelivered" if fails else "delivered",
            error_code=30003 if fails else None,
        )
    for _ in range(gb):
        send(
            scenario,
            1,
            minutes_ago,
            to=to_gb(),
            status="undelivered" if gb_failing else "delivered",
            error_code=30003 if gb_failing else None,
        )


def uk_outage(scenario) -> None:
    """A day of 200 messages an hour to the US and 6 to the UK, all well; then the last
    quarter of an hour: the US as ever, every message to the UK failing."""
    for hour in range(1, 24):
        minute(scenario, hour * 60, 200, 6, gb_failing=False)
    for m in range(1, 14):
        minute(scenario, m, 20, 1, gb_failing=False)
    for m in range(1, 11):
        minute(scenario, m, 0, 1, gb_failing=True)


@pytest.fixture
async def world(database_url, fake_slack, twilio_sim, tmp_path):
    w = await World(fake_slack, twilio_sim, tmp_path, DATABASE_URL=database_url).open()
    yield w
    await w.close()


def text_of(message) -> str:
    return "\n".join(
        str(block.get("text", {}).get("text", ""))
        + "".join(str(f.get("text", "")) for f in block.get("fields", []))
        for block in message["blocks"]
    )


async def test_a_country_outage_the_account_rule_misses_is_alerted_once_by_name(
    world, scenario, fake_slack
):
    uk_outage(scenario)
    result = await world.cycle()

    [reading] = [r for r in result.readings if r.code == 30003]
    # Account-wide: about 4 %, under the 5 % rule, so the account's rule alone is quiet.
    assert reading.rate < 0.05
    baseline = spikes.Baseline(1, 0)  # any: the floors already refuse it
    assert (
        spikes.severity(
            30003,
            reading.failed,
            reading.final,
            reading.recipients,
            reading.rate,
            baseline,
            world.config.thresholds,
        )
        is None
    )
    assert reading.named is not None
    assert reading.named.segment == Segment(SegmentKind.COUNTRY, "GB")
    [alert] = posts(fake_slack)
    assert alert["channel"] == CHANNEL
    assert header(alert) == (
        "🔴 Critical: 30003 · United Kingdom (+44): Unreachable destination handset"
    )
    text = text_of(alert)
    assert "Its own baseline" in text and "Share of traffic" in text
    assert "First, for this country" in text and "Geo Permissions" in text
    # The samples are the UK's failures, and no number is shown whole.
    assert "+4474001" not in text and "+1202555" not in text

    # /twilio status says where it fails.
    status = await world.watcher.actions.status()
    [watched] = [section for section in status.sections() if section.heading.startswith("Watched")]
    [line] = [item for item in watched.items if item.startswith("30003")]
    assert "failing in United Kingdom (+44) (" in line

    # It goes on: the same incident, never a second post.
    minute(scenario, 0, 20, 1, gb_failing=True)
    await world.cycle(minutes_later=1)
    assert len(posts(fake_slack)) == 1

    # The UK recovers; after the quiet checks the incident resolves, on the same message.
    for m in range(16):
        minute(scenario, -1 - m, 20, 2, gb_failing=False)
    world.now += timedelta(minutes=16)
    for _ in range(4):
        await world.cycle(minutes_later=1)
    assert len(posts(fake_slack)) == 1
    edits = fake_slack.calls("chat.update")
    assert edits and header(edits[-1]).startswith("✅ Resolved")
    stored = await world.store.incidents.open_all()
    assert stored == []


async def test_an_account_wide_failure_is_not_named_after_a_country(world, scenario, fake_slack):
    # Both countries fail alike: the account's incident, not the UK's nor the US's.
    for hour in range(1, 24):
        minute(scenario, hour * 60, 200, 60, gb_failing=False)
    for m in range(1, 11):
        for _ in range(5):
            send(scenario, 1, m, to=to_us(), status="undelivered", error_code=30003)
        send(scenario, 1, m, to=to_gb(), status="undelivered", error_code=30003)
        minute(scenario, m, 15, 1, gb_failing=False)
    result = await world.cycle()
    [reading] = [r for r in result.readings if r.code == 30003]
    assert reading.severity is not None
    assert reading.named is None
    [alert] = posts(fake_slack)
    assert "·" not in header(alert)


async def test_a_muted_segment_is_left_out_until_unmuted(world, scenario, fake_slack):
    uk_outage(scenario)
    result = await world.cycle()
    [alert] = posts(fake_slack)
    buttons = incident_buttons(alert)
    assert set(buttons) >= {"segment_mute_24h", "segment_mute_7d"}
    labels = [
        e["text"]["text"] for b in alert["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert (
        "Mute United Kingdom (+44) 24 h" in labels and "Mute United Kingdom (+44) 7 days" in labels
    )
    assert any(r.code == 30003 and r.named for r in result.readings)
    incident_id = int(buttons["segment_mute_24h"])

    reply = await world.watcher.actions.mute_segment(incident_id, "U0MUTER", 24)
    assert reply.startswith("Done: the incident is United Kingdom (+44) muted for 24 h")
    await world.watcher.actions.deliver_queued()
    notes = [p["text"] for p in posts(fake_slack, thread=True)]
    assert any("United Kingdom (+44) muted for 24 h by <@U0MUTER>" in n for n in notes)
    status = await world.watcher.actions.status()
    [muted] = [s for s in status.sections() if s.heading == "Muted segments"]
    assert muted.items[0].startswith("30003 · United Kingdom (+44) · until ")

    # Still failing, but left out: the incident goes quiet and resolves.
    for i in range(4):
        minute(scenario, -1 - i, 20, 1, gb_failing=True)
        await world.cycle(minutes_later=1)
    assert await world.store.incidents.open_all() == []
    assert len(posts(fake_slack)) == 1

    # Unmuted from /twilio status: judged again, a new incident.
    [mute] = await world.store.mutes.active(world.now)
    assert mute.id is not None
    said = await world.watcher.actions.unmute_segment(mute.id, "U0MUTER")
    assert said.startswith("Done: 30003 · United Kingdom (+44) is judged again")
    assert await world.watcher.actions.unmute_segment(mute.id, "U0MUTER") == (
        "That mute has already ended."
    )
    minute(scenario, -5, 20, 1, gb_failing=True)
    await world.cycle(minutes_later=1)
    assert len(posts(fake_slack)) == 2
