"""The Twilio adapter through the real twilio-python client, against the simulator."""

import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.twilio import TwilioApi
from bot.errors import CredentialsRejected, NotFound, TwilioUnavailable
from bot.simulation.faults import Fault
from bot.simulation.scenario import SimNumber
from tests.conftest import ACCOUNT_SID, API_KEY, API_SECRET, make_settings

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
RECIPIENT = "+12025550156"


class Sleeps:
    """Records the waits the adapter asks for, without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def api(twilio_sim, tmp_path, sleeps):
    client = TwilioApi(make_settings(None, tmp_path, twilio_sim), sleep=sleeps)
    yield client
    await client.close()


async def test_fetch_message_reads_every_field(api, scenario):
    sent = scenario.add_message(
        ACCOUNT_SID,
        to=RECIPIENT,
        status="undelivered",
        error_code=30003,
        error_message="Unreachable destination handset",
        messaging_service_sid="MG" + "1" * 32,
        num_segments=2,
        date_created=NOW,
    )
    message = await api.fetch_message(sent.sid)
    assert (message.sid, message.status, message.error_code) == (sent.sid, "undelivered", 30003)
    assert (message.to, message.messaging_service_sid, message.num_segments) == (
        RECIPIENT,
        "MG" + "1" * 32,
        2,
    )
    assert message.date_created == NOW and message.price == "-0.01580"


async def test_missing_message_is_not_found_with_the_sid_and_account(api):
    sid = "SM" + "0" * 32
    with pytest.raises(NotFound, match=f"no message {sid} in account {ACCOUNT_SID}"):
        await api.fetch_message(sid)


async def test_api_key_credentials_work(twilio_sim, tmp_path, scenario):
    sent = scenario.add_message(ACCOUNT_SID, to=RECIPIENT)
    config = make_settings(
        None,
        tmp_path,
        twilio_sim,
        TWILIO_AUTH_TOKEN="",
        TWILIO_API_KEY=API_KEY,
        TWILIO_API_SECRET=API_SECRET,
    )
    api = TwilioApi(config)
    try:
        assert (await api.fetch_message(sent.sid)).sid == sent.sid
    finally:
        await api.close()


async def test_rejected_credentials(twilio_sim, tmp_path):
    api = TwilioApi(make_settings(None, tmp_path, twilio_sim, TWILIO_AUTH_TOKEN="wrong"))
    try:
        with pytest.raises(CredentialsRejected, match="20003"):
            await api.fetch_account()
    finally:
        await api.close()


async def test_429_then_success_waits_for_retry_after(api, twilio_sim, sleeps):
    twilio_sim.inject(Fault(status=429, retry_after=2, path_contains="/Accounts/"))
    account = await api.fetch_account()
    assert account.status == "active"
    assert sleeps.waits == [2.0]
    assert twilio_sim.count("/Accounts/") == 2


async def test_5xx_is_retried_with_backoff_then_reported(api, twilio_sim, sleeps):
    twilio_sim.inject(Fault(status=503, times=3))
    assert (await api.fetch_account()).sid == ACCOUNT_SID
    assert sleeps.waits == [0.5, 1.0, 2.0]
    twilio_sim.inject(Fault(status=500, times=4))
    with pytest.raises(TwilioUnavailable, match="internal error"):
        await api.fetch_account()


async def test_rate_limit_longer_than_we_wait_is_reported_at_once(api, twilio_sim, sleeps):
    twilio_sim.inject(Fault(status=429, retry_after=3600))
    with pytest.raises(TwilioUnavailable, match="rate limiting"):
        await api.fetch_account()
    assert sleeps.waits == []


async def test_truncated_json_is_retried(api, twilio_sim):
    twilio_sim.inject(Fault(status=0, truncate=True))
    assert (await api.fetch_account()).status == "active"
    twilio_sim.inject(Fault(status=0, truncate=True, times=4))
    with pytest.raises(TwilioUnavailable, match="could not be read"):
        await api.fetch_account()


@pytest.mark.slow
async def test_a_slow_answer_times_out_and_is_retried(twilio_sim, tmp_path, sleeps):
    # Half a second: far beyond an honest answer here, far short of the 5 s hang.
    config = make_settings(None, tmp_path, twilio_sim, TWILIO_TIMEOUT_SECONDS="0.5")
    api = TwilioApi(config, sleeps)
    try:
        twilio_sim.inject(Fault(status=0, delay_seconds=5))
        assert (await api.fetch_account()).status == "active"
        assert len(sleeps.waits) == 1
        twilio_sim.inject(Fault(status=0, delay_seconds=5, times=4))
        with pytest.raises(TwilioUnavailable, match="did not answer in time"):
            await api.fetch_account()
    finally:
        await api.close()


async def test_list_filters_pages_and_stops_at_its_page_budget(api, scenario, twilio_sim):
    for i in range(250):
        scenario.add_message(ACCOUNT_SID, to=RECIPIENT, date_created=NOW - timedelta(minutes=i))
    scenario.add_message(ACCOUNT_SID, to="+12025550199", date_created=NOW)
    found = await api.list_messages(to=RECIPIENT, page_size=100, max_pages=2)
    assert len(found) == 200 and {m.to for m in found} == {RECIPIENT}
    assert [m.date_created for m in found] == sorted((m.date_created for m in found), reverse=True)
    assert twilio_sim.count("/Messages.json") == 2
    everything = await api.list_messages(to=RECIPIENT, page_size=100, max_pages=10)
    assert len(everything) == 250 and len({m.sid for m in everything}) == 250


async def test_a_walk_whose_reader_fails_stops_and_leaves_nothing_running(
    api, scenario, twilio_sim
):
    for i in range(30):
        scenario.add_message(ACCOUNT_SID, to=RECIPIENT, date_created=NOW - timedelta(minutes=i))
    pages: list[int] = []

    async def reader(page: list) -> None:  # type: ignore[type-arg]
        pages.append(len(page))
        raise RuntimeError("the store is gone")

    with pytest.raises(RuntimeError, match="the store is gone"):
        await api.read_messages(reader, page_size=10, max_pages=3)
    assert pages == [10]
    # The next page was on its way (at most that one) and is cancelled, not left dangling:
    # an unread task or an unclosed response would fail this test through the warnings.
    assert twilio_sim.count("/Messages.json") <= 2


def test_twilio_dates_are_read_as_twilio_python_reads_them():
    from email.utils import format_datetime

    from twilio.base import deserialize

    from bot.adapters.twilio.records import rfc2822

    moment = datetime(2026, 1, 1, tzinfo=UTC)
    for hours in range(0, 24 * 400, 37):
        text = format_datetime(moment + timedelta(hours=hours, seconds=hours % 60))
        assert (
            rfc2822(text)
            == deserialize.rfc2822_datetime(text)
            == moment + timedelta(hours=hours, seconds=hours % 60)
        )
    # Other forms go through twilio-python's own reader.
    assert rfc2822("Mon, 23 Nov 2026 10:00:00 GMT") == datetime(2026, 11, 23, 10, tzinfo=UTC)
    assert rfc2822("not a date") is None and rfc2822(None) is None


async def test_pages_hold_every_message_once_when_many_share_a_second(api, scenario):
    for i in range(25):
        scenario.add_message(
            ACCOUNT_SID, to=RECIPIENT, date_created=NOW - timedelta(minutes=i // 10)
        )
    found = await api.list_messages(page_size=4, max_pages=10)
    assert len(found) == 25 and {m.sid for m in found} == {m.sid for m in scenario.messages}


async def test_list_by_date_sent(api, scenario):
    for hours in (1, 5, 30):
        scenario.add_message(ACCOUNT_SID, to=RECIPIENT, date_created=NOW - timedelta(hours=hours))
    recent = await api.list_messages(to=RECIPIENT, sent_after=NOW - timedelta(hours=6))
    assert len(recent) == 2


@pytest.mark.parametrize(
    ("number", "valid", "line_type", "errors"),
    [
        ("+12025550156", True, "mobile", ()),
        ("+12025550100", True, "landline", ()),
        ("+1202555", False, None, ("TOO_SHORT",)),
    ],
)
async def test_lookup(api, scenario, number, valid, line_type, errors):
    scenario.numbers["+12025550100"] = SimNumber(line_type="landline", carrier_name="Verizon")
    result = await api.lookup(number)
    assert (result.valid, result.line_type, result.validation_errors) == (valid, line_type, errors)


def test_rewrite_covers_every_twilio_host_and_nothing_else(twilio_sim, tmp_path):
    import asyncio

    async def rewrites() -> list[str]:
        api = TwilioApi(make_settings(None, tmp_path, twilio_sim))
        try:
            return [
                api.http.rewrite(url)
                for url in (
                    "https://api.twilio.com/2010-04-01/Accounts.json?PageSize=5",
                    "https://lookups.twilio.com/v2/PhoneNumbers/+1202",
                    "https://monitor.twilio.com/v1/Alerts?PageToken=x",
                    "https://example.com/twilio.com",
                    "http://api.twilio.com/x",
                    "https://evil-twilio.com/x",
                )
            ]
        finally:
            await api.close()

    o = twilio_sim.origin
    assert asyncio.run(rewrites()) == [
        o + "/2010-04-01/Accounts.json?PageSize=5",
        o + "/v2/PhoneNumbers/+1202",
        o + "/v1/Alerts?PageToken=x",
        "https://example.com/twilio.com",
        "http://api.twilio.com/x",
        "https://evil-twilio.com/x",
    ]


async def test_logs_carry_no_full_number_and_no_secret(api, twilio_sim, caplog):
    twilio_sim.inject(Fault(status=503))
    with caplog.at_level(logging.DEBUG):
        await api.list_messages(to=RECIPIENT)
        await api.lookup(RECIPIENT)
    # The simulator's own access log (aiohttp.access) is the fake Twilio's, not the bot's.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")
    assert "Twilio GET" in ours and "retry 1 of 3" in ours
    assert "2025550156" not in ours and "test-auth-token" not in ours


async def test_a_walk_says_whether_it_read_all_there_was(api, scenario, twilio_sim):
    """Review of issue 19: an empty page with no next, after others, was taken for the
    list's end, and the coverage claimed what was never read."""

    async def ignore(page: list) -> None:  # type: ignore[type-arg]
        pass

    empty = await api.read_messages(ignore, page_size=10, max_pages=5)
    assert (empty.pages, empty.rest, empty.whole) == (1, None, True)  # an empty account
    for i in range(30):
        scenario.add_message(ACCOUNT_SID, to=RECIPIENT, date_created=NOW - timedelta(minutes=i))
    cut = await api.read_messages(ignore, page_size=10, max_pages=2)
    assert cut.rest is not None and "PageToken=" in cut.rest and not cut.whole
    rest = await api.read_messages(ignore, page_size=10, max_pages=5, resume=cut.rest)
    assert (rest.pages, rest.rest, rest.whole) == (1, None, True)  # the last ten
    reached = await api.read_messages(
        ignore, created_after=NOW - timedelta(minutes=12), page_size=10, max_pages=5
    )
    assert (reached.pages, reached.whole) == (2, True)
    # The second page comes back empty, with no next: what became of the rest is unknown.
    twilio_sim.inject(Fault(status=0, body='{"messages": []}', path_contains="PageToken="))
    early = await api.read_messages(ignore, page_size=10, max_pages=5)
    assert (early.pages, early.rest, early.whole) == (2, None, False)
    twilio_sim.inject(Fault(status=0, body='{"messages": []}', path_contains="PageToken="))
    gone = await api.read_messages(ignore, page_size=10, max_pages=5, resume=cut.rest)
    assert (gone.pages, gone.whole) == (1, False)
