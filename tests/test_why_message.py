"""`/twilio why SM…` and `python -m bot why SM…` against the simulator, end to end."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from bot import app as bot_app
from bot import cli
from bot.domain.messages import STATUS_MEANINGS
from bot.render.blocks import DOCS_ACTION_ID, LOOKUP_ACTION_ID, SHARE_ACTION_ID
from bot.simulation.faults import Fault
from bot.tuning import Tuning
from tests.conftest import (
    ACCOUNT_SID,
    button_click,
    make_settings,
    post_signed,
    run_cli,
    slash_command,
)
from tests.support import RECIPIENT, ask, dead_number_story, texts


@pytest.fixture
async def live(database_url, fake_slack, twilio_sim, tmp_path, aiohttp_client):
    """The real app, wired to the fake Slack and the simulator, on each backend."""
    settings = make_settings(fake_slack, tmp_path, twilio_sim, DATABASE_URL=database_url)
    # Twilio's retries 10 ms apart, not half a second: faults are injected here.
    return await aiohttp_client(bot_app.build(settings, Tuning(twilio_backoff_seconds=0.01)))


async def test_an_undelivered_message_is_explained_with_its_context(live, fake_slack, scenario):
    sid = dead_number_story(scenario)
    reply = await ask(live, fake_slack, f"why {sid}", "r")
    assert reply["response_type"] == "ephemeral"
    content = texts(reply["blocks"])
    assert f"Message {sid} · undelivered" in content
    assert "30003 · Unreachable destination handset" in content
    assert RECIPIENT in content  # the asker alone sees the full number
    assert "5 messages in a row to this number failed with 30003 within 7 days" in content
    assert (
        "1 of 31 messages with a final status failed with 30003 (3.2%), to 1 recipient(s); "
        "counted over the 31 messages Twilio listed for " in content
    )
    lookup, share, _docs = next(b for b in reply["blocks"] if b["type"] == "actions")["elements"]
    assert (lookup["action_id"], lookup["value"]) == (LOOKUP_ACTION_ID, RECIPIENT)
    assert (share["action_id"], share["value"]) == (SHARE_ACTION_ID, sid)


async def test_share_posts_in_channel_with_numbers_masked(live, fake_slack, scenario):
    sid = dead_number_story(scenario)
    body = button_click(SHARE_ACTION_ID, sid, fake_slack.response_url("shared"))
    assert await post_signed(live, body) == 200
    await fake_slack.wait_for(lambda: fake_slack.calls("response/shared"))
    [post] = fake_slack.calls("response/shared")
    assert post["response_type"] == "in_channel" and post["replace_original"] is False
    everything = post["text"] + texts(post["blocks"])
    assert "2025550156" not in everything and "+1•••••••156" in everything
    # Neither button that only the asker should have: Share, and Look up (full number).
    buttons = {
        e["action_id"] for b in post["blocks"] if b["type"] == "actions" for e in b["elements"]
    }
    assert buttons == {DOCS_ACTION_ID}


async def test_unknown_message_names_sid_and_account(live, fake_slack):
    sid = "SM" + "0" * 32
    reply = await ask(live, fake_slack, f"why {sid}", "nf")
    assert reply["text"] == f"no message {sid} in account {ACCOUNT_SID}"


async def test_a_malformed_sid_never_reaches_twilio(live, fake_slack, twilio_sim):
    reply = await ask(live, fake_slack, "why SM123", "bad")
    assert "is not a Message SID" in reply["text"]
    assert twilio_sim.received == []


async def test_rate_limited_then_answered(live, fake_slack, scenario, twilio_sim):
    sid = dead_number_story(scenario)
    twilio_sim.inject(Fault(status=429, retry_after=0, path_contains=f"/Messages/{sid}"))
    reply = await ask(live, fake_slack, f"why {sid}", "rl")
    assert reply["text"].startswith(f"Message {sid} · undelivered")
    assert twilio_sim.count(f"/Messages/{sid}") == 2


async def test_twilio_down_is_a_calm_message_not_a_traceback(
    live, fake_slack, scenario, twilio_sim, monkeypatch
):
    sid = dead_number_story(scenario)
    twilio_sim.inject(Fault(status=500, times=100))
    reply = await ask(live, fake_slack, f"why {sid}", "down")
    assert reply["text"] == "Twilio had an internal error (HTTP 500); try again shortly."


async def test_a_delivered_message_with_no_error(live, fake_slack, scenario):
    sent = scenario.add_message(ACCOUNT_SID, to=RECIPIENT, status="delivered")
    reply = await ask(live, fake_slack, f"why {sent.sid}", "ok")
    content = texts(reply["blocks"])
    assert "The carrier confirmed it reached the handset." in content
    assert "*Error*\nnone" in content
    assert "Across the account" not in content


def test_terminal_why_sid(capsys, tmp_path, scenario):
    sid = dead_number_story(scenario)
    assert run_cli(["why", sid], scenario, tmp_path)[0] == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Message {sid} · undelivered")
    assert "What 30003 means" in out and "Team policy (more than 3 in a row)" in " ".join(
        out.split()
    )


@pytest.mark.parametrize(
    "command", [["why", "SM" + "0" * 32], ["lookup", "+12025550156"], ["status"]]
)
def test_terminal_answers_without_their_settings_are_settings_problems(capsys, tmp_path, command):
    """Issue 14, item 17: missing Twilio credentials were exit 1 on stdout; the README says
    a settings problem is exit 2 on stderr."""
    assert cli.main(command, {"DATABASE_PATH": str(tmp_path / "b.db")}) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "cannot start, fix these settings first" in err
    assert "Twilio is not configured" in err or "SLACK_ALERT_CHANNEL" in err


async def test_a_failed_account_sample_leaves_that_part_out(
    live, fake_slack, scenario, twilio_sim, monkeypatch
):
    sid = dead_number_story(scenario)
    # The account-wide list has a DateSent> filter and no To; the history call has To.
    twilio_sim.inject(Fault(status=503, times=4, path_contains="/Messages.json"))
    reply = await ask(live, fake_slack, f"why {sid}", "partial")
    content = texts(reply["blocks"])
    assert f"Message {sid} · undelivered" in content
    assert "Across the account" not in content


@pytest.mark.parametrize("status", sorted(STATUS_MEANINGS))
def test_every_status_through_the_real_client(capsys, tmp_path, scenario, status):
    sent = scenario.add_message(ACCOUNT_SID, to=RECIPIENT, status=status)
    assert run_cli(["why", sent.sid], scenario, tmp_path)[0] == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"Message {sent.sid} · {status}" in out
    assert " ".join(STATUS_MEANINGS[status].split()) in out


async def test_a_burst_of_why_reads_the_account_hour_once(live, fake_slack, scenario, twilio_sim):
    sid = dead_number_story(scenario)
    await ask(live, fake_slack, f"why {sid}", "first")
    await ask(live, fake_slack, f"why {sid}", "second")
    # Two fetches, two recipient histories, one read of the account's last hour.
    unfiltered = [r for r in twilio_sim.received if r.path.endswith("/Messages.json")]
    assert len([r for r in unfiltered if "To" not in r.query]) == 1
    assert len([r for r in unfiltered if "To" in r.query]) == 2
    assert twilio_sim.count(f"/Messages/{sid}.json") == 2


async def test_a_message_the_store_knows_has_its_history_asked_with_the_fetch(
    live, fake_slack, scenario, twilio_sim
):
    sid = dead_number_story(scenario)
    await ask(live, fake_slack, f"why {sid}", "first")  # now the store knows the recipient
    histories = len([r for r in twilio_sim.received if "To" in r.query])
    # The fetch is held for 2 s: a history that waited for it could not arrive sooner.
    twilio_sim.inject(Fault(status=0, delay_seconds=2, path_contains=f"/Messages/{sid}.json"))
    assert await post_signed(live, slash_command(f"why {sid}", fake_slack.response_url("again")))
    for _ in range(150):  # up to 1.5 s
        if len([r for r in twilio_sim.received if "To" in r.query]) > histories:
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the history was not asked for while the fetch was held")
    assert not fake_slack.calls("response/again")
    await fake_slack.wait_for(lambda: fake_slack.calls("response/again"))
    assert f"Message {sid} · undelivered" in texts(fake_slack.calls("response/again")[0]["blocks"])


async def test_a_replayed_share_click_posts_once(live, fake_slack, scenario):
    """Issue 14, item 7: four copies of one signed "Share in channel" click posted four
    times. Slack gives each click its own trigger_id; a copy carries the same one."""
    sid = scenario.add_message(
        ACCOUNT_SID, to=RECIPIENT, status="undelivered", error_code=30003
    ).sid
    body = button_click(SHARE_ACTION_ID, sid, fake_slack.response_url("share"), trigger_id="9.9.9")
    for _ in range(4):
        assert await post_signed(live, body) == 200
    await fake_slack.wait_for(lambda: len(fake_slack.calls("response/share")) == 4)
    replies = fake_slack.calls("response/share")
    assert [r["response_type"] for r in replies].count("in_channel") == 1
    assert [r["text"] for r in replies].count(
        "That click was handled already; nothing was done again."
    ) == 3
    other = button_click(SHARE_ACTION_ID, sid, fake_slack.response_url("again"))
    assert await post_signed(live, other) == 200  # a new click shares again
    await fake_slack.wait_for(lambda: fake_slack.calls("response/again"))
    assert fake_slack.calls("response/again")[0]["response_type"] == "in_channel"


async def test_a_shared_report_masks_numbers_in_every_field(live, fake_slack, scenario):
    """Issue 14, item 8: Twilio's error text for a code with no curated title was posted
    to the channel with the full number in it."""
    sid = scenario.add_message(
        ACCOUNT_SID,
        to=RECIPIENT,
        status="failed",
        error_code=63016,
        error_message=f"Failed to send freeform message to {RECIPIENT} (+1 202 555 0157)",
    ).sid
    body = button_click(SHARE_ACTION_ID, sid, fake_slack.response_url("shared"))
    assert await post_signed(live, body) == 200
    await fake_slack.wait_for(lambda: fake_slack.calls("response/shared"))
    [reply] = fake_slack.calls("response/shared")
    assert reply["response_type"] == "in_channel"
    everything = json.dumps(reply, ensure_ascii=False)
    assert "2025550156" not in everything and "555 0157" not in everything
    assert "63016 · Failed to send freeform message to +1•••" in texts(reply["blocks"])


def test_a_channel_masks_ten_digit_numbers_the_log_keeps_as_times():
    """Review of issue 14: the log keeps Unix times, but a channel must not show a
    national number that looks like one (Brazil's area codes 15-19, written nationally)."""
    from bot.answers.commands import Notice
    from bot.domain.privacy import Redactor
    from bot.render.blocks import render

    _, shared = render(Notice("to 1932345678 at 1764662566"), masked=True)
    assert "1932345678" not in json.dumps(shared) and "1764662566" not in json.dumps(shared)
    assert Redactor([]).redact("timestamp 1764662566") == "timestamp 1764662566"


async def test_a_second_why_keeps_the_fresh_status_not_the_shared_sample_s(
    live, fake_slack, scenario
):
    """Review of issue 18: the account's hour, shared by every `why` for a while, was
    saved after the message just fetched, so its older status replaced the fresh one."""
    now = datetime.now(UTC)
    m = scenario.add_message(
        ACCOUNT_SID, to=RECIPIENT, status="sent", date_created=now - timedelta(minutes=3)
    )
    await ask(live, fake_slack, f"why {m.sid}", "first")  # the hour's sample says `sent`
    m.status, m.error_code, m.date_updated = "undelivered", 30003, now
    reply = await ask(live, fake_slack, f"why {m.sid}", "second")
    assert f"Message {m.sid} · undelivered" in texts(reply["blocks"])
    [held] = await live.server.app[bot_app.SERVICE].store.messages.by_sid([m.sid])
    assert (held.status, held.error_code) == ("undelivered", 30003)
