"""Registration watch (issue 18, item 3): A2P 10DLC brands and campaigns and toll-free
verifications read from the simulator's Messaging API, and a post when one is refused
(with Twilio's reason, the code US traffic will fail with, what to fix) or approved."""

import json
from datetime import timedelta

import pytest

from bot.adapters.event_streams.cloudevents import read_batch
from bot.answers.registration_report import RegistrationReport
from bot.domain.registrations import Kind, Registration, Standing, StatusChange, changes
from bot.simulation.faults import Fault
from bot.store.encoding import REGISTRATIONS_EVENT, iso
from tests.conftest import ACCOUNT_SID
from tests.fake_slack import FakeSlack
from tests.fake_slack import Fault as SlackFault
from tests.support import texts
from tests.watching import World, posts

BRAND = Registration(Kind.BRAND, "BN1", "APPROVED", "STANDARD brand")
CAMPAIGN = Registration(Kind.CAMPAIGN, "QE1", "IN_PROGRESS", "MIXED of Alerts")
TOLL_FREE = Registration(Kind.TOLL_FREE, "HH1", "PENDING_REVIEW", "+18335550100")


@pytest.mark.parametrize(
    ("kind", "status", "standing"),
    [
        (Kind.BRAND, "APPROVED", Standing.APPROVED),
        (Kind.BRAND, "FAILED", Standing.REFUSED),
        (Kind.BRAND, "SUSPENDED", Standing.REFUSED),
        (Kind.BRAND, "IN_REVIEW", Standing.PENDING),
        (Kind.CAMPAIGN, "VERIFIED", Standing.APPROVED),
        (Kind.CAMPAIGN, "FAILED", Standing.REFUSED),
        (Kind.CAMPAIGN, "IN_PROGRESS", Standing.PENDING),
        (Kind.TOLL_FREE, "TWILIO_APPROVED", Standing.APPROVED),
        (Kind.TOLL_FREE, "TWILIO_REJECTED", Standing.REFUSED),
        (Kind.TOLL_FREE, "IN_REVIEW", Standing.PENDING),
        (Kind.TOLL_FREE, "SOMETHING_NEW", Standing.PENDING),
    ],
)
def test_how_each_status_stands(kind, status, standing):
    assert Registration(kind, "X", status).standing is standing


def _with(r: Registration, status: str) -> Registration:
    return Registration(r.kind, r.sid, status, r.about, r.reason)


@pytest.mark.parametrize(
    ("held", "found", "posted"),
    [
        ({}, [BRAND, CAMPAIGN, TOLL_FREE], []),  # first sight, nothing refused: quiet
        ({}, [_with(CAMPAIGN, "FAILED")], [("QE1", None)]),  # refused on first sight
        ({"QE1": "IN_PROGRESS"}, [CAMPAIGN], []),
        ({"QE1": "IN_PROGRESS"}, [_with(CAMPAIGN, "FAILED")], [("QE1", "IN_PROGRESS")]),
        ({"QE1": "FAILED"}, [_with(CAMPAIGN, "VERIFIED")], [("QE1", "FAILED")]),
        ({"QE1": "FAILED"}, [_with(CAMPAIGN, "IN_PROGRESS")], []),  # resubmitted
        ({"HH1": "IN_REVIEW"}, [_with(TOLL_FREE, "TWILIO_APPROVED")], [("HH1", "IN_REVIEW")]),
    ],
)
def test_which_changes_are_posted(held, found, posted):
    assert [(c.registration.sid, c.before) for c in changes(held, found)] == posted


def test_a_refusal_says_why_what_fails_and_what_to_fix_with_numbers_masked():
    refused = Registration(
        Kind.TOLL_FREE,
        "HH1",
        "TWILIO_REJECTED",
        "+18335550100",
        "Website does not match +18335550100",
    )
    report = RegistrationReport(
        StatusChange(refused, "IN_REVIEW"), "Toll-Free Number Has Not Been Verified"
    )
    assert report.heading == "⚠️ toll-free verification · +1•••••••100: twilio rejected"
    facts = dict(report.facts())
    assert facts["Status"] == "IN_REVIEW → TWILIO_REJECTED"
    assert facts["Twilio's reason"] == "Website does not match +1•••••••100"
    assert "30032 Toll-Free Number Has Not Been Verified" in facts["What fails"]
    [steps] = report.sections()
    assert steps.numbered and len(steps.items) >= 2
    approved = RegistrationReport(
        StatusChange(_with(refused, "TWILIO_APPROVED"), "TWILIO_REJECTED"), ""
    )
    assert approved.heading.startswith("✅ toll-free verification") and approved.sections() == []


@pytest.fixture
async def world(database_url, fake_slack, twilio_sim, tmp_path):
    w = await World(fake_slack, twilio_sim, tmp_path, DATABASE_URL=database_url).open()
    yield w
    await w.close()


def _posted(fake: FakeSlack) -> list[str]:
    return [texts(p["blocks"]) for p in posts(fake)]


async def test_a_rejected_campaign_is_posted_before_traffic_fails_and_once(
    world, scenario, fake_slack
):
    """The campaign fails review while every message is still delivered: one warning,
    with Twilio's reason, 30034 and what to fix; not again at the next check nor after a
    restart; its approval later is a short note."""
    scenario.add_registration(ACCOUNT_SID, "brand", "APPROVED")
    campaign = scenario.add_registration(ACCOUNT_SID, "campaign", "IN_PROGRESS", about="MIXED")
    scenario.add_registration(ACCOUNT_SID, "toll-free", "IN_REVIEW", about="+18335550100")
    await world.cycle()
    assert posts(fake_slack) == []
    campaign.status, campaign.reason = "FAILED", "Sample messages do not match the use case"
    await world.cycle(minutes_later=30)
    assert posts(fake_slack) == []  # REGISTRATION_CHECK_MINUTES: not read again yet
    await world.cycle(minutes_later=31)
    [warning] = _posted(fake_slack)
    assert "A2P 10DLC campaign · MIXED of Service" in warning and "failed" in warning
    assert "Sample messages do not match the use case" in warning
    assert "30034 US A2P 10DLC - Message from an Unregistered Number" in warning
    assert "What to fix" in warning
    await world.cycle(minutes_later=61)
    await world.restart()
    await world.cycle(minutes_later=61)
    assert len(posts(fake_slack)) == 1
    campaign.status = "VERIFIED"
    await world.cycle(minutes_later=61)
    assert "✅ A2P 10DLC campaign" in _posted(fake_slack)[-1]
    assert len(posts(fake_slack)) == 2


async def test_slack_down_keeps_the_change_for_a_read_a_few_minutes_on(
    world, scenario, fake_slack, twilio_sim
):
    """Review of issue 18: Slack failing left the check due, and every cycle read every
    service's campaigns again. Now the next try waits two minutes, and posts then."""
    scenario.add_registration(
        ACCOUNT_SID, "toll-free", "TWILIO_REJECTED", reason="Opt-in proof missing"
    )
    fake_slack.inject(SlackFault("chat.postMessage", status=503))
    await world.cycle()
    assert fake_slack.posted == 0 and len(posts(fake_slack)) == 1  # tried, refused
    reads = twilio_sim.count("/v1/Tollfree/Verifications")
    await world.cycle(minutes_later=1)
    assert twilio_sim.count("/v1/Tollfree/Verifications") == reads  # not every cycle
    await world.cycle(minutes_later=1)
    assert fake_slack.posted == 1
    rejected = _posted(fake_slack)[-1]
    assert "Opt-in proof missing" in rejected and "+1•••••••100" in rejected
    await world.cycle(minutes_later=5)
    assert fake_slack.posted == 1


async def test_an_account_without_these_products_is_read_without_a_fault(
    world, scenario, fake_slack, twilio_sim
):
    scenario.add_registration(ACCOUNT_SID, "toll-free", "TWILIO_REJECTED")
    twilio_sim.inject(Fault(status=404, path_contains="/v1/a2p/BrandRegistrations"))
    twilio_sim.inject(Fault(status=403, path_contains="/v1/Services"))
    result = await world.cycle()
    assert result is not None and world.watcher.health.last_error is None
    assert len(posts(fake_slack)) == 1  # the toll-free verification was still read


async def test_a_registration_event_from_the_stream_has_them_read_at_once(
    world, scenario, fake_slack
):
    """Issue 18, item 3: with Event Streams on, a registration event (whatever its exact
    type and fields) has the next cycle read them, not the hourly check."""
    campaign = scenario.add_registration(ACCOUNT_SID, "campaign", "IN_PROGRESS")
    await world.cycle()
    campaign.status = "FAILED"
    event = {
        "type": "com.twilio.messaging.compliance.campaign-registration.campaign-failure",
        "id": "EZc1",
        "data": {"campaignsid": campaign.sid},
    }
    batch = read_batch(json.dumps([event]).encode(), world.now)
    assert batch.compliance == 1
    # What the sink does with it, a minute after the last read; the next read comes
    # two minutes after that one, not an hour.
    await world.store.watcher.put(REGISTRATIONS_EVENT, iso(world.now + timedelta(minutes=1)))
    await world.cycle(minutes_later=1)
    assert posts(fake_slack) == []
    await world.cycle(minutes_later=1)
    assert len(posts(fake_slack)) == 1
    await world.cycle(minutes_later=2)
    assert len(posts(fake_slack)) == 1  # the event is answered once


async def test_a_clock_stepped_back_does_not_stop_the_checks(world, scenario, fake_slack):
    """Review of issue 18: with the last check's time in the future (the clock set back
    a day), no check was due until the clock caught up."""
    campaign = scenario.add_registration(ACCOUNT_SID, "campaign", "IN_PROGRESS")
    await world.cycle()
    campaign.status = "FAILED"
    world.now -= timedelta(days=1)
    await world.cycle()
    assert len(posts(fake_slack)) == 1
