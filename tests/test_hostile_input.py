"""Hostile input: whatever is typed after `/twilio`, and whatever is posted to the bot's
endpoints, gets an answer (or a 4xx), never an exception, and nothing typed can ping a
channel, mention someone or make a link in what the bot writes back."""

import asyncio
import json
import logging
import re
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import app as bot_app
from bot import settings as bot_settings
from bot.answers import commands, curated
from bot.answers.commands import Notice, Usage
from bot.answers.curated import curated_directory, load_curated
from bot.answers.service import Service
from bot.render.blocks import ACK_ACTION_ID, LOOKUP_ACTION_ID, SHARE_ACTION_ID, render
from bot.simulation.scenario import Scenario
from bot.simulation.simulator import Simulator
from bot.store.sqlite import SqliteStore
from tests.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FIGURES,
    button_click,
    make_settings,
    post_signed,
    slash_command,
)
from tests.fake_slack import FakeSlack

POLICY = bot_settings.load({}).policy

HOSTILE = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U0123ABCD>",
    "<#C0123|general>",
    "<https://evil.example|click here>",
    "`",
    "```",
    "\n",
    "\r\n",
    "\t",
    "'",
    '"',
    "'; drop table messages; --",
    "{0}",
    "{text!r:>{width}}",
    "%s%n",
    "%(secret)s",
    "\u200b",
    "\u2060",
    "\ufeff",
    "\u202e",
    "\x00",
    "&amp;",
    "*bold* _it_ ~gone~ >quote",
    "SM" + "a1" * 16,
    "SM\u200b" + "0" * 32,
    "MM" + "f" * 31,
    "+1 202 555 0156",
    "+1\u200b202\u2060555 0156",
    "30003",
    "error #30002",
    "\uff19\uff19\uff19",  # full-width digits
    "🙂" * 3,
)
WORDS = ("why", "lookup", "status", "help", "WHY", "Lookup", "", "nope", "why why")
fragments = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30))
command_text = st.one_of(
    st.builds(
        lambda word, parts: f"{word} {''.join(parts)}",
        st.sampled_from(WORDS),
        st.lists(fragments, max_size=10),
    ),
    st.text(max_size=200),
    st.builds(
        lambda word, filler: f"{word} {filler}",
        st.sampled_from(WORDS),
        st.text(min_size=5000, max_size=6000),
    ),
)


def strings(value: Any) -> list[str]:
    """Every string in a JSON-like value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in strings(v)]
    return []


# The one link the bot writes itself: an answer's sources, each a page on Twilio's sites
# that the knowledge files name and `curated.SOURCE` checks.
_SOURCE_LINK = re.compile(r"<(" + curated.SOURCE.pattern + r")\|[A-Za-z0-9 ]+>")


def assert_safe(fallback: str, blocks: list[Any]) -> None:
    # Slack reads `<…>` as a mention, a channel ping or a link: none may come from input.
    for text in [fallback, *strings(blocks)]:
        text = _SOURCE_LINK.sub("", text)
        assert "<" not in text and ">" not in text, text
    json.dumps(blocks)  # what goes to Slack must serialise


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Service:
    store = SqliteStore(str(tmp_path_factory.mktemp("hostile") / "bot.db"))
    return Service(load_curated(curated_directory(), POLICY), store, POLICY)


@pytest.mark.slow
def test_any_command_text_gets_an_answer_and_nothing_it_echoes_can_ping(service):
    tried = 0

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(text=command_text)
    def check(text: str) -> None:
        nonlocal tried
        answer = asyncio.run(commands.answer(text, service, "U0001"))
        tried += 1
        said = commands.normalize(text)
        if isinstance(answer, Usage) and said.lower().partition(" ")[0] not in ("", "help"):
            assert answer.problem, f"usage for {text!r} should say what was wrong"
        if isinstance(answer, Notice):
            assert "Traceback" not in answer.text
        for masked in (False, True):
            fallback, blocks = render(answer, "/twilio", masked=masked)
            assert_safe(fallback, blocks)

    check()
    FIGURES["hostile command texts through the commands and renderer"] = (
        f"{tried}; none raised, none echoed a `<`"
    )


class Live:
    """The real app with the simulator and a fake Slack, on a loop of its own, for a
    property to send one signed command at a time through."""

    def __init__(self, tmp_path) -> None:
        self.loop = asyncio.new_event_loop()
        self.tmp_path = tmp_path
        self.loop.run_until_complete(self._start())
        self.sent = 0

    async def _start(self) -> None:
        scenario = Scenario()
        scenario.add_account(ACCOUNT_SID, AUTH_TOKEN)
        self.sim = Simulator(scenario)
        self.twilio_server = TestServer(self.sim.app(), host="127.0.0.1", port=0)
        await self.twilio_server.start_server()
        self.sim.origin = str(self.twilio_server.make_url("")).rstrip("/")
        self.slack = FakeSlack()
        self.slack_server = TestServer(self.slack.app(), host="127.0.0.1", port=0)
        await self.slack_server.start_server()
        self.slack.base_url = str(self.slack_server.make_url("")).rstrip("/")
        app = bot_app.build(make_settings(self.slack, self.tmp_path, self.sim))
        self.client = TestClient(TestServer(app, host="127.0.0.1", port=0))
        await self.client.start_server()

    def command(self, text: str) -> dict[str, Any]:
        return self.loop.run_until_complete(self._command(text))

    async def _command(self, text: str) -> dict[str, Any]:
        self.sent += 1
        name = f"r{self.sent}"
        status = await post_signed(self.client, slash_command(text, self.slack.response_url(name)))
        assert status == 200
        await self.slack.wait_for(lambda: self.slack.calls(f"response/{name}"))
        [reply] = self.slack.calls(f"response/{name}")
        return reply

    def close(self) -> None:
        async def stop() -> None:
            await self.client.close()
            await self.slack_server.close()
            await self.twilio_server.close()

        self.loop.run_until_complete(stop())
        self.loop.close()


def test_signed_hostile_commands_through_the_http_app_are_acked_and_answered(tmp_path):
    live = Live(tmp_path)

    tried = 0

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(text=command_text)
    def check(text: str) -> None:
        nonlocal tried
        reply = live.command(text)
        tried += 1
        assert reply["response_type"] == "ephemeral"
        assert "went wrong on the bot's side" not in reply["text"]
        assert_safe(reply["text"], reply["blocks"])

    try:
        check()
    finally:
        live.close()
    FIGURES["hostile command texts signed through the HTTP app"] = (
        f"{tried}; every one acked and answered, none echoed a `<`"
    )


MALFORMED_PAYLOADS = (
    "{not json",
    "[1, 2]",
    '"a string"',
    "null",
    json.dumps({"type": "block_actions", "actions": "x", "user": "y", "channel": 3}),
    json.dumps({"type": "block_actions", "actions": [None], "user": None}),
    json.dumps({"type": "view_submission", "view": []}),
)


@pytest.mark.parametrize("payload", MALFORMED_PAYLOADS)
async def test_a_malformed_interactivity_payload_is_400_not_500(client, payload):
    body = urlencode({"payload": payload})
    assert await post_signed(client, body) in (400, 404)


@pytest.mark.parametrize("body", ["{broken json", "%%%", "payload", "", "a=1&a=2&&="])
async def test_a_malformed_events_body_is_never_500(client, body):
    assert await post_signed(client, body) < 500


async def test_a_button_with_a_hostile_value_gets_a_plain_answer(client, fake_slack):
    body = button_click("lookup_number", "<!channel> +1 202", fake_slack.response_url("b"))
    assert await post_signed(client, body) == 200
    await fake_slack.wait_for(lambda: fake_slack.calls("response/b"))
    [reply] = fake_slack.calls("response/b")
    assert_safe(reply["text"], reply["blocks"])


def odd_click(change: dict[str, Any], response_url: str, action_id: str = SHARE_ACTION_ID) -> str:
    """A signed button click whose payload Slack would never send in this shape."""
    body = button_click(action_id, "SM" + "a" * 32, response_url)
    payload = json.loads(parse_qs(body)["payload"][0])
    payload.update(change)
    return urlencode({"payload": json.dumps(payload)})


@pytest.mark.parametrize("actions", [[], None, "share", [None], [{"value": None}]])
async def test_a_click_without_a_usable_action_is_a_400(client, fake_slack, actions, caplog):
    """Issue 14, item 6: `"actions": []` or null was a 500 with a traceback."""
    body = odd_click({"actions": actions}, fake_slack.response_url("none"))
    assert await post_signed(client, body) == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "change",
    [{"user": None}, {"user": "U0001"}, {"channel": None}, {"channel": "C0001"}, {"user": {}}],
)
@pytest.mark.parametrize("action_id", [SHARE_ACTION_ID, LOOKUP_ACTION_ID, ACK_ACTION_ID])
async def test_a_click_from_an_odd_user_or_channel_gets_a_clear_answer(
    client, fake_slack, change, action_id, caplog
):
    name = f"odd-{action_id}-{len(fake_slack.received)}"
    body = odd_click(change, fake_slack.response_url(name), action_id)
    assert await post_signed(client, body) == 200
    await fake_slack.wait_for(lambda: fake_slack.calls(f"response/{name}"))
    [reply] = fake_slack.calls(f"response/{name}")
    assert "went wrong on the bot's side" not in reply["text"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
