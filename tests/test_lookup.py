"""`/twilio lookup` and `python -m bot lookup` against the simulator, end to end."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot import app as bot_app
from bot import cli, settings
from bot.adapters.twilio import TwilioApi
from bot.answers.commands import Notice, answer
from bot.answers.curated import curated_directory, load_curated
from bot.answers.number_report import NumberReport
from bot.answers.service import Service
from bot.render.blocks import LOOKUP_ACTION_ID
from bot.simulation.faults import Fault
from bot.simulation.scenario import SimNumber
from bot.store.sqlite import SqliteStore
from bot.tuning import Tuning
from tests.conftest import (
    button_click,
    make_settings,
    post_signed,
    run_cli,
    slash_command,
)
from tests.support import RECIPIENT, ask, dead_number_story, texts

POLICY = settings.load({}).policy

LANDLINE = "+12025550111"
LOOKUPS = "/v2/PhoneNumbers/"


@pytest.fixture
async def live(database_url, fake_slack, twilio_sim, tmp_path, aiohttp_client):
    """The real app, wired to the fake Slack and the simulator, on each backend."""
    settings = make_settings(
        fake_slack, tmp_path, twilio_sim, LOOKUPS_PER_USER_PER_HOUR="2", DATABASE_URL=database_url
    )
    # Twilio's retries 10 ms apart, not half a second: faults are injected here.
    return await aiohttp_client(bot_app.build(settings, Tuning(twilio_backoff_seconds=0.01)))


async def test_a_mobile_number_in_any_format(live, fake_slack, twilio_sim):
    reply = await ask(live, fake_slack, "lookup (202) 555-0156", "m")
    assert reply["response_type"] == "ephemeral"
    content = texts(reply["blocks"])
    assert reply["text"] == "Number +1 202-555-0156: mobile"
    for fact in (
        "*E.164*\n+12025550156",
        "*Carrier*\nSimulated Wireless",
        "*MCC / MNC*\n310 / 260",
    ):
        assert fact in content
    assert "it can receive SMS" in content
    [request] = twilio_sim.received
    assert request.path == LOOKUPS + "+12025550156"
    assert request.query["Fields"] == "line_type_intelligence"


async def test_a_landline_is_told_it_cannot_take_sms(live, fake_slack, scenario):
    scenario.numbers[LANDLINE] = SimNumber("landline", "Verizon", None, None)
    reply = await ask(live, fake_slack, f"lookup {LANDLINE}", "l")
    content = texts(reply["blocks"])
    assert "*Line type*\nlandline" in content and "*Carrier*\nVerizon" in content
    assert "messages to it fail with 30006" in content
    assert "MCC / MNC" not in content


async def test_a_number_that_cannot_be_valid_costs_no_lookup(live, fake_slack, twilio_sim):
    reply = await ask(live, fake_slack, "lookup +1 202 555", "bad")
    assert reply["text"].startswith("`+1 202 555` cannot be a phone number.")
    assert "have 10 digits after it; this one has 6" in reply["text"]
    assert twilio_sim.received == []


async def test_a_repeat_comes_from_the_cache(live, fake_slack, twilio_sim):
    await ask(live, fake_slack, "lookup +12025550156", "first")
    reply = await ask(live, fake_slack, "lookup 202 555 0156", "again")
    assert "from the bot's cache" in texts(reply["blocks"])
    assert twilio_sim.count(LOOKUPS) == 1


async def test_the_hourly_limit_is_per_user_and_spares_the_cache(live, fake_slack, twilio_sim):
    for i, number in enumerate(("+12025550156", "+12025550157")):
        reply = await ask(live, fake_slack, f"lookup {number}", f"ok{i}")
        assert reply["text"].startswith("Number")
    reply = await ask(live, fake_slack, "lookup +12025550158", "limited")
    assert reply["text"].startswith("You have used your 2 paid lookups for this hour.")
    assert "The next one frees up at" in reply["text"]
    assert twilio_sim.count(LOOKUPS) == 2
    # A number already looked up still answers, free.
    cached = await ask(live, fake_slack, "lookup +12025550156", "cached")
    assert cached["text"].startswith("Number")
    # Someone else has their own allowance.
    body = slash_command("lookup +12025550158", fake_slack.response_url("other"), user_id="U0002")
    assert await post_signed(live, body) == 200
    await fake_slack.wait_for(lambda: fake_slack.calls("response/other"))
    assert fake_slack.calls("response/other")[0]["text"].startswith("Number")
    assert twilio_sim.count(LOOKUPS) == 3


async def test_a_failed_lookup_is_not_charged_to_the_user(
    live, fake_slack, twilio_sim, monkeypatch
):
    twilio_sim.inject(Fault(status=500, times=8, path_contains=LOOKUPS))
    for name in ("down1", "down2"):
        reply = await ask(live, fake_slack, "lookup +12025550156", name)
        assert reply["text"] == "Twilio had an internal error (HTTP 500); try again shortly."
    # Both failed, so the allowance of 2 is whole.
    for i, number in enumerate(("+12025550156", "+12025550157")):
        reply = await ask(live, fake_slack, f"lookup {number}", f"up{i}")
        assert reply["text"].startswith("Number")


NOW_MINUS_WEEK = datetime.now(UTC) - timedelta(days=7)
NULLS = (
    '{"phone_number": null, "valid": null, "validation_errors": null, "country_code": null, '
    '"national_format": null, "line_type_intelligence": null, "calling_country_code": null}'
)


async def test_a_malformed_lookup_is_a_fault_retried_and_never_cached(
    live, fake_slack, twilio_sim, monkeypatch
):
    """Issue 14, item 2: a 200 of nulls was shown as "Valid: no" and kept for 7 days."""
    twilio_sim.inject(Fault(status=0, body=NULLS, times=1, path_contains=LOOKUPS))
    reply = await ask(live, fake_slack, "lookup +12025550156", "once")
    assert reply["text"] == "Number +1 202-555-0156: mobile"  # the retry had the real one
    assert twilio_sim.count(LOOKUPS) == 2
    twilio_sim.inject(Fault(status=0, body=NULLS, times=4, path_contains=LOOKUPS))
    reply = await ask(live, fake_slack, "lookup +12025550157", "always")
    assert reply["text"] == "Twilio sent an answer of the wrong shape; try again shortly."
    store = live.app[bot_app.SERVICE].store
    assert await store.lookups.cached("+12025550157", NOW_MINUS_WEEK) is None
    reply = await ask(live, fake_slack, "lookup +12025550157", "later")
    assert reply["text"] == "Number +1 202-555-0157: mobile"
    assert twilio_sim.count(LOOKUPS) == 2 + 4 + 1


async def test_lookup_429_then_answer(live, fake_slack, twilio_sim):
    twilio_sim.inject(Fault(status=429, retry_after=0, path_contains=LOOKUPS))
    reply = await ask(live, fake_slack, "lookup +12025550156", "rl")
    assert reply["text"] == "Number +1 202-555-0156: mobile"
    assert twilio_sim.count(LOOKUPS) == 2


async def test_canadian_line_type_without_approval(live, fake_slack, scenario, twilio_sim):
    scenario.numbers["+16135550123"] = SimNumber(error_code=60601)
    reply = await ask(live, fake_slack, "lookup +1 613 555 0123", "ca")
    content = texts(reply["blocks"])
    assert "*Line type*\nnot available (Twilio error 60601)" in content
    assert "Canadian numbers" in content
    # Not cached: once Twilio approves the account, the next ask gets the line type.
    await ask(live, fake_slack, "lookup +1 613 555 0123", "ca2")
    assert twilio_sim.count(LOOKUPS) == 2


async def test_a_number_twilio_calls_invalid(live, fake_slack, scenario):
    scenario.numbers["+12025550177"] = SimNumber(valid=False)
    reply = await ask(live, fake_slack, "lookup +12025550177", "inv")
    content = texts(reply["blocks"])
    assert "*Valid (Twilio)*\nno: the right length, but in no range of numbers in use" in content
    assert "refused with 21211" in content


async def test_a_double_click_pays_once(twilio_sim, tmp_path):
    twilio_sim.latency_seconds = 0.2  # both asks are in flight together
    store = SqliteStore(str(tmp_path / "bot.db"))
    api = TwilioApi(make_settings(None, tmp_path, twilio_sim))
    service = Service(
        load_curated(curated_directory(), POLICY), store, POLICY, api, lookups_per_hour=5
    )
    try:
        first, second = await asyncio.gather(
            answer("lookup +12025550156", service, "U1"),
            answer("lookup +12025550156", service, "U1"),
        )
        assert isinstance(first, NumberReport) and isinstance(second, NumberReport)
        assert twilio_sim.count(LOOKUPS) == 1
        assert len(await store.lookups.uses("U1", datetime.now(UTC) - timedelta(hours=1))) == 1
    finally:
        await api.close()
        store.close()


async def test_a_second_click_while_the_first_answer_is_being_kept_pays_nothing(
    twilio_sim, tmp_path
):
    """Review of issue 15: the call was forgotten before its answer reached the cache, so a
    click landing in between (the database slow to take the write) asked Twilio again."""
    import sqlite3

    twilio_sim.latency_seconds = 0.2
    path = str(tmp_path / "bot.db")
    store = SqliteStore(path)
    api = TwilioApi(make_settings(None, tmp_path, twilio_sim))
    service = Service(
        load_curated(curated_directory(), POLICY), store, POLICY, api, lookups_per_hour=5
    )
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        first = asyncio.create_task(answer("lookup +12025550156", service, "U1"))
        while twilio_sim.count(LOOKUPS) < 1:  # counted and asked: now hold the writes
            await asyncio.sleep(0.01)
        holder.execute("BEGIN IMMEDIATE")  # the first answer waits to be kept
        await asyncio.sleep(0.3)  # Twilio has answered it by now
        second = asyncio.create_task(answer("lookup +12025550156", service, "U2"))
        await asyncio.sleep(0.1)
        holder.execute("COMMIT")
        assert isinstance(await first, NumberReport) and isinstance(await second, NumberReport)
        assert twilio_sim.count(LOOKUPS) == 1
        assert await store.lookups.uses("U2", datetime.now(UTC) - timedelta(hours=1)) == []
    finally:
        holder.close()
        await api.close()
        store.close()


async def test_history_comes_from_messages_the_bot_has_seen(live, fake_slack, scenario):
    sid = dead_number_story(scenario)
    await ask(live, fake_slack, f"why {sid}", "why")
    reply = await ask(live, fake_slack, f"lookup {RECIPIENT}", "history")
    content = texts(reply["blocks"])
    assert "5 in the bot's records: 5 undelivered." in content
    assert "5 messages in a row to this number failed with 30003 within 7 days" in content
    assert "Team policy (more than 3 in a row)" in content


async def test_the_look_up_button_of_a_message_report(live, fake_slack, scenario, twilio_sim):
    sid = dead_number_story(scenario)
    report = await ask(live, fake_slack, f"why {sid}", "why")
    [button] = [
        e
        for b in report["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == LOOKUP_ACTION_ID
    ]
    body = button_click(LOOKUP_ACTION_ID, button["value"], fake_slack.response_url("clicked"))
    assert await post_signed(live, body) == 200
    await fake_slack.wait_for(lambda: fake_slack.calls("response/clicked"))
    [reply] = fake_slack.calls("response/clicked")
    assert reply["response_type"] == "ephemeral"
    assert reply["text"] == "Number +1 202-555-0156: mobile"
    assert twilio_sim.count(LOOKUPS) == 1


async def test_the_button_answers_the_allowlist_like_the_command(
    fake_slack, twilio_sim, tmp_path, aiohttp_client
):
    settings = make_settings(fake_slack, tmp_path, twilio_sim, ALLOWED_USERS="U0009")
    client = await aiohttp_client(bot_app.build(settings))
    body = button_click(LOOKUP_ACTION_ID, RECIPIENT, fake_slack.response_url("refused"))
    assert await post_signed(client, body) == 200
    await fake_slack.wait_for(lambda: fake_slack.calls("response/refused"))
    assert "ALLOWED_USERS" in fake_slack.calls("response/refused")[0]["text"]
    assert twilio_sim.received == []


async def test_a_forged_button_click_is_refused(live, fake_slack, twilio_sim):
    body = button_click(LOOKUP_ACTION_ID, RECIPIENT, fake_slack.response_url("forged"))
    assert await post_signed(live, body, secret="not-the-secret") == 401
    assert twilio_sim.received == [] and fake_slack.calls("response/forged") == []


async def test_the_cache_expires_after_seven_days(twilio_sim, tmp_path):
    now = [datetime(2026, 11, 23, 12, 0, tzinfo=UTC)]
    store = SqliteStore(str(tmp_path / "bot.db"))
    api = TwilioApi(make_settings(None, tmp_path, twilio_sim))
    service = Service(
        load_curated(curated_directory(), POLICY), store, POLICY, api, clock=lambda: now[0]
    )
    try:
        for days in (0, 6, 8):
            now[0] = datetime(2026, 11, 23, 12, 0, tzinfo=UTC) + timedelta(days=days)
            result = await answer("lookup +12025550156", service, "U0001")
            assert isinstance(result, NumberReport)
        # Day 0 asked Twilio, day 6 was cached, day 8 asked again.
        assert twilio_sim.count(LOOKUPS) == 2
        assert isinstance(result, NumberReport)  # day 8's, as checked in the loop
        assert result.looked_up_at == now[0] and not result.cached
    finally:
        await api.close()
        store.close()


async def test_the_limit_frees_up_an_hour_after_the_oldest_use(twilio_sim, tmp_path):
    start = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    now = [start]
    store = SqliteStore(str(tmp_path / "bot.db"))
    api = TwilioApi(make_settings(None, tmp_path, twilio_sim))
    service = Service(
        load_curated(curated_directory(), POLICY),
        store,
        POLICY,
        api,
        clock=lambda: now[0],
        lookups_per_hour=2,
    )
    try:
        assert isinstance(await answer("lookup +12025550156", service, "U1"), NumberReport)
        now[0] = start + timedelta(minutes=10)
        assert isinstance(await answer("lookup +12025550157", service, "U1"), NumberReport)
        now[0] = start + timedelta(minutes=20)
        refused = await answer("lookup +12025550158", service, "U1")
        assert isinstance(refused, Notice)
        assert "frees up at 13:00 UTC, in 40 min" in refused.text
        now[0] = start + timedelta(minutes=61)
        assert isinstance(await answer("lookup +12025550158", service, "U1"), NumberReport)
        refused = await answer("lookup +12025550159", service, "U1")
        assert isinstance(refused, Notice) and "frees up at 13:10 UTC" in refused.text
    finally:
        await api.close()
        store.close()


def test_terminal_lookup(capsys, tmp_path, scenario):
    scenario.numbers[LANDLINE] = SimNumber("landline", "Verizon", None, None)
    code, _ = run_cli(["lookup", "+1", "202", "555", "0111"], scenario, tmp_path)
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("Number +1 202-555-0111\n======")
    assert "Line type:" in out and "landline" in out and "30006" in out


def test_terminal_lookup_of_an_impossible_number(capsys, tmp_path):
    assert cli.main(["lookup", "12"], {"DATABASE_PATH": str(tmp_path / "b.db")}) == 2
    assert "12 cannot be a phone number." in capsys.readouterr().out


def test_terminal_lookup_uses_the_default_region(capsys, tmp_path, scenario):
    code, sim = run_cli(["lookup", "020 7946 0018"], scenario, tmp_path, DEFAULT_REGION="GB")
    assert code == 0
    assert "Number +44 20 7946 0018" in capsys.readouterr().out
    assert sim.count(LOOKUPS + "+442079460018") == 1


def test_the_terminal_is_not_held_to_the_slack_limit(tmp_path, scenario):
    code, sim = run_cli(
        ["lookup", "+12025550156"], scenario, tmp_path, LOOKUPS_PER_USER_PER_HOUR="0"
    )
    assert code == 0 and sim.count(LOOKUPS) == 1


async def test_zero_allows_only_cached_answers(fake_slack, twilio_sim, tmp_path, aiohttp_client):
    settings = make_settings(fake_slack, tmp_path, twilio_sim, LOOKUPS_PER_USER_PER_HOUR="0")
    client = await aiohttp_client(bot_app.build(settings))
    reply = await ask(client, fake_slack, "lookup +12025550156", "off")
    assert reply["text"].startswith("Paid lookups are turned off here")
    assert twilio_sim.received == []


async def test_rejected_credentials_are_named_not_dumped(
    fake_slack, twilio_sim, tmp_path, aiohttp_client
):
    settings = make_settings(fake_slack, tmp_path, twilio_sim, TWILIO_AUTH_TOKEN="wrong-token")
    client = await aiohttp_client(bot_app.build(settings))
    reply = await ask(client, fake_slack, "lookup +12025550156", "creds")
    assert reply["text"].startswith("Twilio rejected the bot's credentials (error 20003).")
    assert "wrong-token" not in reply["text"]
