"""Access: every subcommand and every button, from someone ALLOWED_USERS leaves out and
from a channel ALLOWED_CHANNELS leaves out, through the real app. Each gets a polite
refusal and changes nothing; the same request from an allowed user in an allowed
channel is answered. Incident buttons check the user only: the alert channel need not
be one where commands are allowed."""

from typing import Any

import pytest

from bot import app as bot_app
from bot.adapters import slack
from bot.answers.commands import SUBCOMMANDS
from bot.render.blocks import (
    ACK_ACTION_ID,
    DOCS_ACTION_ID,
    LOOKUP_ACTION_ID,
    MUTE_ACTION_IDS,
    MUTE_SEGMENT_ACTION_IDS,
    SAMPLES_ACTION_ID,
    SHARE_ACTION_ID,
    UNMUTE_ACTION_ID,
)
from tests.conftest import (
    FIGURES,
    button_click,
    make_settings,
    post_signed,
    slash_command,
)
from tests.support import query, until
from tests.watching import CHANNEL, failing

USER, ROOM = "U0ALLOWED", "C0ALLOWED"
CALLERS = {"stranger": ("U0STRANGER", ROOM), "elsewhere": (USER, "C0ELSEWHERE")}
NUMBER = "+12025550156"

COMMANDS = {
    "why": "why {sid}",
    "lookup": f"lookup {NUMBER}",
    "status": "status",
    "hygiene": "hygiene",
    "help": "help",
}
BUTTONS = {
    SHARE_ACTION_ID: "{sid}",
    LOOKUP_ACTION_ID: NUMBER,
    ACK_ACTION_ID: "{incident}",
    SAMPLES_ACTION_ID: "{incident}",
    **dict.fromkeys(MUTE_ACTION_IDS, "{incident}"),
    **dict.fromkeys(MUTE_SEGMENT_ACTION_IDS, "{incident}"),
    UNMUTE_ACTION_ID: "1",  # a mute's id
}
USERS_ONLY = {
    ACK_ACTION_ID,
    SAMPLES_ACTION_ID,
    *MUTE_ACTION_IDS,
    *MUTE_SEGMENT_ACTION_IDS,
    UNMUTE_ACTION_ID,
}
REFUSED_USER = "Ask whoever runs it to add you to `ALLOWED_USERS`."
REFUSED_CHANNEL = "ask to add this one to `ALLOWED_CHANNELS`"


def test_the_tables_cover_every_subcommand_and_button():
    assert set(COMMANDS) == {sub.name for sub in SUBCOMMANDS}
    # The link button opens Twilio's page: Slack sends it, the bot only acknowledges it.
    assert set(BUTTONS) | {DOCS_ACTION_ID} == set(slack.ACTIONS)


@pytest.fixture
async def guarded(fake_slack, twilio_sim, scenario, tmp_path, aiohttp_client):
    """The app with both allowlists, watching an account with one open incident."""
    failing(scenario, 1, 2, code=30002)
    settings = make_settings(
        fake_slack,
        tmp_path,
        twilio_sim,
        ALLOWED_USERS=USER,
        ALLOWED_CHANNELS=ROOM,
        SLACK_ALERT_CHANNEL=CHANNEL,
        POLL_INTERVAL_SECONDS="3600",  # one cycle, at start
    )
    client = await aiohttp_client(bot_app.build(settings))
    await fake_slack.wait_for(lambda: fake_slack.posted == 1)
    # The cycle goes on after the post (registrations, the digest): it ends first, so
    # what reaches Twilio after this is what the commands asked.
    await until(lambda: client.server.app[bot_app.WATCHER].health.last_finished is not None)
    return client


async def send(client, fake_slack, kind: str, value: str, caller: tuple[str, str], name: str):
    user, channel = caller
    url = fake_slack.response_url(name)
    if kind in COMMANDS:
        body = slash_command(value, url, user_id=user, channel_id=channel)
    else:
        body = button_click(kind, value, url, user=user, channel=channel)
    assert await post_signed(client, body) == 200
    await fake_slack.wait_for(lambda: fake_slack.calls(f"response/{name}"))
    [reply] = fake_slack.calls(f"response/{name}")
    return reply


def assert_answered(kind: str, reply: dict[str, Any]) -> None:
    """Neither a refusal nor a failure: the request did what it asks."""
    text = reply["text"]
    assert REFUSED_USER not in text and REFUSED_CHANNEL not in text, kind
    assert "went wrong" not in text and "not running in this process" not in text, kind


def incident_state(tmp_path) -> tuple[Any, ...]:
    [row] = query(
        str(tmp_path / "bot.db"),
        "select id, acknowledged_by, muted_until from incidents where resolved_at is null",
    )
    return tuple(row)


async def test_every_command_and_button_honours_the_allowlists(
    guarded, fake_slack, twilio_sim, scenario, tmp_path
):
    [message] = scenario.messages
    incident, _, _ = incident_state(tmp_path)
    values = {"sid": message.sid, "incident": str(incident)}
    requests = [(kind, text.format(**values)) for kind, text in COMMANDS.items()]
    requests += [(kind, value.format(**values)) for kind, value in BUTTONS.items()]
    asked_twilio = len(twilio_sim.received)
    answered = 0
    for kind, value in requests:
        for who, caller in CALLERS.items():
            reply = await send(guarded, fake_slack, kind, value, caller, f"{kind}-{who}")
            assert reply["response_type"] == "ephemeral", (kind, who)
            if who == "stranger":
                assert REFUSED_USER in reply["text"], kind
            elif kind in USERS_ONLY:
                answered += 1  # the alert channel is not a command channel
                assert_answered(kind, reply)
            else:
                assert REFUSED_CHANNEL in reply["text"], kind
    # Nothing refused reached Twilio (the incident buttons have their own test below).
    refused = len(requests) * len(CALLERS) - answered
    assert len(twilio_sim.received) == asked_twilio
    for kind, value in requests:
        reply = await send(guarded, fake_slack, kind, value, (USER, ROOM), f"{kind}-allowed")
        assert_answered(kind, reply)
    assert len(twilio_sim.received) > asked_twilio  # `why SM…` and `lookup` did ask it
    FIGURES["Access: every subcommand and button"] = (
        f"{len(requests)} requests from each of {len(CALLERS)} callers left out: {refused} refused "
        f"politely, nothing done; {answered} incident-button clicks from outside "
        "ALLOWED_CHANNELS answered, as designed"
    )


async def test_incident_buttons_from_a_stranger_change_nothing(guarded, fake_slack, tmp_path):
    before = incident_state(tmp_path)
    incident = str(before[0])
    for action_id in (ACK_ACTION_ID, *MUTE_ACTION_IDS):
        reply = await send(guarded, fake_slack, action_id, incident, CALLERS["stranger"], action_id)
        assert REFUSED_USER in reply["text"]
    assert incident_state(tmp_path) == before
    assert fake_slack.calls("chat.update") == []
