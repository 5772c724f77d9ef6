"""The daily digest: which day is due, what it says, and that the watcher posts it once,
across cycles and restarts, and again after Slack failed."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from bot import settings
from bot.answers.digest import Digest, DigestIncident, due_day
from bot.domain import hygiene
from bot.domain.alerting import Incident
from bot.domain.thresholds import Severity
from bot.render.blocks import document
from bot.store.counting import DELIVERED, SENT, TOTAL
from tests.fake_slack import Fault
from tests.watching import CHANNEL, NOW, World, posts, send

DAY = date(2026, 12, 1)
START = datetime(2026, 12, 1, tzinfo=UTC)
POLICY = settings.load({}).policy


@pytest.mark.parametrize(
    ("now", "at", "due"),
    [
        (datetime(2026, 12, 2, 9, 0, tzinfo=UTC), time(9, 0), DAY),  # at the minute
        # Before the time: the day before's is still due, until it has gone.
        (datetime(2026, 12, 2, 8, 59, tzinfo=UTC), time(9, 0), date(2026, 11, 30)),
        (datetime(2026, 12, 2, 0, 10, tzinfo=UTC), time(23, 59), date(2026, 11, 30)),
        (datetime(2026, 12, 2, 23, 0, tzinfo=UTC), time(9, 0), DAY),  # later the same day
        (datetime(2026, 12, 2, 0, 30, tzinfo=UTC), time(0, 0), DAY),
        (datetime(2026, 12, 2, 9, 0, tzinfo=UTC), None, None),  # no DIGEST_TIME
    ],
)
def test_the_day_before_is_due_once_the_time_has_come(now, at, due):
    assert due_day(now, at) == due


def made(**changes) -> Digest:
    values = {
        "day": DAY,
        "counts": {SENT: 10_000, TOTAL: 9_900, DELIVERED: 9_504, 30003: 300, 30007: 50, 21610: 3},
        "before": {SENT: 70_000, TOTAL: 69_000, DELIVERED: 67_620, 30003: 1_400, 30007: 350},
        "days_before": 7.0,
        "incidents": (
            DigestIncident(
                Incident(
                    "k", 30003, Severity.CRITICAL, START + timedelta(hours=9),
                    START + timedelta(hours=10),
                    resolved_at=START + timedelta(hours=10, minutes=12),
                ),
                "30003 · United Kingdom (+44)",
            ),
            DigestIncident(
                Incident("k2", 30007, Severity.WARNING, START + timedelta(hours=22), START),
                "30007 Message filtered",
            ),
        ),
        "hygiene": hygiene.assess(hygiene.recorded([]), POLICY, START, START),
        "titles": {30003: "Unreachable destination handset"},
    }  # fmt: skip
    return Digest(**{**values, **changes})


def shown(d: Digest) -> str:
    """The digest as the channel gets it: the text of its blocks."""
    return str(document(d.heading, d.facts(), d.sections()))


def test_the_digest_says_the_day_against_the_week_before():
    text = shown(made())
    assert "Daily digest · 2026-12-01 (UTC)" in text
    assert "10,000 outbound messages, 9,900 with a final status" in text
    # 96.0 % delivered against 98.0 % the week before.
    assert "96.0% of the final ones (-2.0 points against 98.0% the 7 days before)" in text
    # 300 against 200 a day: +50 %; 30007: 50 against 50; 21610: none before.
    assert "30003 Unreachable destination handset: 300 (+50% against 200 a day)" in text
    assert "30007: 50 (+0% against 50 a day)" in text
    assert "21610: 3 (new: none the days before)" in text
    assert "2 opened, 1 resolved, 1 still open" in text
    assert "critical · 30003 · United Kingdom (+44) · opened 2026-12-01 09:00 UTC" in text
    assert "resolved after 1 h 12 min" in text
    assert "warning · 30007 Message filtered" in text and "still open" in text
    assert "0 number(s) to stop or fix, 0 suspect" in text


def test_a_quiet_day_says_so():
    text = shown(made(counts={}, before={}, incidents=()))
    assert "0 outbound messages" in text and "no message reached a final status" in text
    assert "Top error codes" not in text


@pytest.fixture
async def world(database_url, fake_slack, twilio_sim, tmp_path):
    w = World(
        fake_slack,
        twilio_sim,
        tmp_path,
        DATABASE_URL=database_url,
        DIGEST_TIME="00:00",
        BACKFILL_HOURS="48",
        RETENTION_DAYS="8",
    )
    await w.open()
    yield w
    await w.close()


def digests(fake_slack) -> list[dict[str, Any]]:
    return [p for p in posts(fake_slack) if p["text"].startswith("Daily digest")]


async def test_the_watcher_posts_the_digest_once(world, scenario, fake_slack):
    yesterday = NOW.astimezone(UTC).date() - timedelta(days=1)
    noon = datetime.combine(yesterday, time(12), UTC)
    minutes_ago = (NOW - noon).total_seconds() / 60
    send(scenario, 40, minutes_ago)
    send(scenario, 10, minutes_ago, status="undelivered", error_code=30003)
    await world.cycle()
    [posted] = digests(fake_slack)
    assert posted["channel"] == CHANNEL
    text = str(posted["blocks"])
    assert f"Daily digest · {yesterday.isoformat()} (UTC)" in text
    assert "50 outbound messages, 50 with a final status" in text
    assert "80.0% of the final ones" in text
    assert "30003 Unreachable destination handset: 10" in text
    # Later cycles, and a restarted watcher, do not post it again.
    await world.cycle(minutes_later=1)
    await world.restart()
    await world.cycle(minutes_later=1)
    assert len(digests(fake_slack)) == 1


async def test_a_digest_slack_refused_goes_at_the_next_cycle(world, scenario, fake_slack):
    fake_slack.inject(Fault(method="chat.postMessage", error="channel_not_found"))
    key = f"digest:{(NOW.astimezone(UTC).date() - timedelta(days=1)).isoformat()}"
    await world.cycle()
    assert len(digests(fake_slack)) == 1  # asked, and refused
    assert await world.store.watcher.get(key) is None
    await world.cycle(minutes_later=1)
    assert len(digests(fake_slack)) == 2  # taken
    assert await world.store.watcher.get(key) == "posted"
    await world.cycle(minutes_later=1)
    assert len(digests(fake_slack)) == 2
