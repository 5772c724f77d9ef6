"""Signed slash commands through the real aiohttp app, answered on the fake Slack."""

import logging
import time

import pytest

from bot.render.blocks import DOCS_ACTION_ID
from tests.conftest import SIGNING_SECRET, post_signed, signed_headers, slash_command
from tests.support import texts


async def test_why_30002_is_acked_then_answered_with_blocks(client, fake_slack):
    body = slash_command("why 30002", fake_slack.response_url("r1"))
    assert await post_signed(client, body) == 200
    await fake_slack.wait_for(lambda: fake_slack.calls("response/r1"))
    [reply] = fake_slack.calls("response/r1")
    assert reply["response_type"] == "ephemeral"
    assert reply["text"].startswith("30002 · Account suspended")
    assert reply["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "30002 · Account suspended"},
    }
    content = texts(reply["blocks"])
    for heading in ("What it means", "Likely causes", "What to do, in order", "Shows up as"):
        assert heading in content
    [button] = next(b for b in reply["blocks"] if b["type"] == "actions")["elements"]
    assert button["url"] == "https://www.twilio.com/docs/api/errors/30002"
    assert button["action_id"] == DOCS_ACTION_ID


async def test_the_ack_comes_before_the_slow_work(fake_slack, tmp_path, aiohttp_client):
    """The HTTP 200 must reach Slack while the answer is still being worked out."""
    import asyncio

    from aiohttp import web

    from bot.adapters import slack
    from bot.answers.commands import IncidentAction, Notice
    from bot.answers.hygiene_report import HygieneReport
    from bot.answers.message_report import MessageReport
    from bot.answers.number_report import NumberReport
    from bot.answers.phone_numbers import PhoneNumber
    from bot.answers.status import StatusReport
    from tests.conftest import make_settings

    release = asyncio.Event()
    started = asyncio.Event()

    class Slow:
        default_region = "US"

        async def explain(self, code: int):
            raise AssertionError("not asked")

        async def explain_message(self, sid: str) -> MessageReport:
            started.set()
            await release.wait()
            return Notice("done")  # type: ignore[return-value]  # a stand-in for the report

        async def look_up(self, number: PhoneNumber, asker: str | None) -> NumberReport:
            raise AssertionError("not asked")

        async def status(self) -> StatusReport:
            raise AssertionError("not asked")

        async def hygiene(self, full: bool, as_csv: bool) -> HygieneReport:
            raise AssertionError("not asked")

        async def first_click(self, key: str) -> bool:
            raise AssertionError("not asked")

        async def incident_action(self, action: IncidentAction, incident_id: str, user: str) -> str:
            raise AssertionError("not asked")

        async def deliver_changes(self) -> None:
            raise AssertionError("not asked")

    bolt = slack.build_app(make_settings(fake_slack, tmp_path), Slow())
    app = web.Application()
    app.router.add_post("/slack/events", slack.events_handler(bolt, SIGNING_SECRET))
    client = await aiohttp_client(app)
    body = slash_command("why SM" + "0" * 32, fake_slack.response_url("slow"))
    response = await asyncio.wait_for(
        client.post("/slack/events", data=body, headers=signed_headers(body)), 5
    )
    assert response.status == 200 and await response.text() == ""
    assert not release.is_set()  # acked while the work is still held back
    await asyncio.wait_for(started.wait(), 5)
    assert fake_slack.calls("response/slow") == []
    release.set()
    await fake_slack.wait_for(lambda: fake_slack.calls("response/slow"))
    assert fake_slack.calls("response/slow")[0]["text"] == "done"


async def test_unknown_subcommand_gets_usage_naming_it(client, fake_slack):
    body = slash_command("frobnicate 1", fake_slack.response_url("r3"))
    assert await post_signed(client, body) == 200
    await fake_slack.wait_for(lambda: fake_slack.calls("response/r3"))
    [reply] = fake_slack.calls("response/r3")
    assert "There is no `frobnicate` command." in reply["text"]
    assert "/twilio why &lt;error code | Message SID&gt;" in texts(reply["blocks"])


async def test_echoed_text_cannot_ping_anyone(client, fake_slack):
    body = slash_command("<!channel> <@U123> hi", fake_slack.response_url("r4"))
    assert await post_signed(client, body) == 200
    await fake_slack.wait_for(lambda: fake_slack.calls("response/r4"))
    [reply] = fake_slack.calls("response/r4")
    everything = reply["text"] + texts(reply["blocks"])
    assert "<!channel>" not in everything and "<@U123>" not in everything
    assert "&lt;!channel&gt;" in everything


async def test_help_lists_every_subcommand(client, fake_slack):
    body = slash_command("help", fake_slack.response_url("r5"))
    assert await post_signed(client, body) == 200
    await fake_slack.wait_for(lambda: fake_slack.calls("response/r5"))
    content = texts(fake_slack.calls("response/r5")[0]["blocks"])
    assert "/twilio why &lt;error code | Message SID&gt;" in content and "/twilio help" in content


async def _refused_then_canary(client, fake_slack, status_of_bad: int, **bad) -> None:
    """A bad request, then a good one: only the good one may ever reach the handler."""
    bad_body = slash_command("why 30003", fake_slack.response_url("bad"))
    headers = signed_headers(bad_body, **bad.get("sign", {}))
    headers.update(bad.get("headers", {}))
    for name in bad.get("drop", ()):
        headers.pop(name)
    response = await client.post("/slack/events", data=bad_body, headers=headers)
    assert response.status == status_of_bad
    good_body = slash_command("why 30003", fake_slack.response_url("good"))
    assert await post_signed(client, good_body) == 200
    await fake_slack.wait_for(lambda: fake_slack.calls("response/good"))
    assert fake_slack.calls("response/bad") == []


async def test_forged_signature_is_refused(client, fake_slack):
    await _refused_then_canary(client, fake_slack, 401, sign={"secret": "not-the-secret"})


async def test_missing_signature_is_refused(client, fake_slack):
    await _refused_then_canary(
        client, fake_slack, 401, drop=("X-Slack-Signature", "X-Slack-Request-Timestamp")
    )


async def test_stale_signature_is_refused(client, fake_slack):
    six_minutes_ago = int(time.time()) - 6 * 60
    await _refused_then_canary(client, fake_slack, 401, sign={"timestamp": six_minutes_ago})


async def test_tampered_body_is_refused(client, fake_slack):
    body = slash_command("why 30003", fake_slack.response_url("bad"))
    headers = signed_headers(body)
    tampered = body.replace("why+30003", "why+30002")
    response = await client.post("/slack/events", data=tampered, headers=headers)
    assert response.status == 401


async def test_docs_button_click_is_acknowledged(client, fake_slack):
    import json
    from urllib.parse import urlencode

    payload = {
        "type": "block_actions",
        "team": {"id": "T0001"},
        "user": {"id": "U0001"},
        "api_app_id": "A0001",
        "token": "x",
        "trigger_id": "1.2.3",
        "response_url": fake_slack.response_url("button"),
        "actions": [
            {"type": "button", "action_id": DOCS_ACTION_ID, "block_id": "b", "action_ts": "1"}
        ],
    }
    body = urlencode({"payload": json.dumps(payload)})
    assert await post_signed(client, body) == 200


async def test_healthz(client):
    response = await client.get("/healthz")
    assert response.status == 200
    health = await response.json()
    assert health["status"] == "ok" and health["mode"] == "http"
    assert health["knowledge_entries"] >= 60


async def test_allowlists_refuse_politely(fake_slack, tmp_path, aiohttp_client):
    from bot import app as bot_app
    from tests.conftest import make_settings

    config = make_settings(fake_slack, tmp_path, ALLOWED_USERS="U0001", ALLOWED_CHANNELS="C0001")
    client = await aiohttp_client(bot_app.build(config))
    for name, fields in {
        "stranger": {"user_id": "U9999"},
        "elsewhere": {"channel_id": "C9999"},
        "allowed": {},
    }.items():
        body = slash_command("why 30003", fake_slack.response_url(name), **fields)
        assert await post_signed(client, body) == 200
        await fake_slack.wait_for(lambda name=name: fake_slack.calls(f"response/{name}"))
    assert "ALLOWED_USERS" in fake_slack.calls("response/stranger")[0]["text"]
    assert "ALLOWED_CHANNELS" in fake_slack.calls("response/elsewhere")[0]["text"]
    assert fake_slack.calls("response/allowed")[0]["text"].startswith("30003")


@pytest.mark.parametrize("text", ["why 30003", "lookup +1 202 555 0156"])
async def test_a_bug_is_logged_and_the_user_gets_a_short_apology(
    fake_slack, tmp_path, aiohttp_client, caplog, text
):
    from aiohttp import web

    from bot.adapters import slack
    from bot.answers.commands import IncidentAction
    from bot.answers.hygiene_report import HygieneReport
    from bot.answers.message_report import MessageReport
    from bot.answers.status import StatusReport
    from tests.conftest import make_settings

    class Broken:
        default_region = "US"

        async def explain(self, code: int):
            raise RuntimeError("boom")

        async def explain_message(self, sid: str) -> MessageReport:
            raise AssertionError("not asked")

        async def look_up(self, number, asker):
            raise RuntimeError("boom")

        async def status(self) -> StatusReport:
            raise AssertionError("not asked")

        async def hygiene(self, full: bool, as_csv: bool) -> HygieneReport:
            raise AssertionError("not asked")

        async def first_click(self, key: str) -> bool:
            raise AssertionError("not asked")

        async def incident_action(self, action: IncidentAction, incident_id: str, user: str) -> str:
            raise AssertionError("not asked")

        async def deliver_changes(self) -> None:
            raise AssertionError("not asked")

    bolt = slack.build_app(make_settings(fake_slack, tmp_path), Broken())
    app = web.Application()
    app.router.add_post("/slack/events", slack.events_handler(bolt, SIGNING_SECRET))
    client = await aiohttp_client(app)
    body = slash_command(text, fake_slack.response_url("oops"))
    assert await post_signed(client, body) == 200
    await fake_slack.wait_for(lambda: fake_slack.calls("response/oops"))
    [reply] = fake_slack.calls("response/oops")
    assert reply["text"] == "Something went wrong on the bot's side; it has been logged."
    assert "boom" not in str(reply)
    [record] = [r for r in caplog.records if r.name == "bot.adapters.slack.listeners"]
    assert record.exc_info and record.exc_info[0] is RuntimeError
    assert record.getMessage() == f"/twilio {text.split()[0]} failed"  # never the number


async def test_a_flood_of_forged_requests_leaves_one_short_line_and_no_body(
    client, fake_slack, caplog
):
    """Issue 14, item 5: forged bodies were logged whole at INFO (210 MB in 14 s), a body
    with a newline forged a log line of its own, and a response_url reached the log."""
    forged = slash_command("why 30003\nERROR bot: forged line", fake_slack.response_url("f"))
    big = "x" * 600_000
    with caplog.at_level(logging.DEBUG):
        for _ in range(50):
            headers = signed_headers(forged, secret="not-the-secret")
            assert (await client.post("/slack/events", data=forged, headers=headers)).status == 401
        headers = signed_headers(big, secret="not-the-secret")
        assert (await client.post("/slack/events", data=big, headers=headers)).status == 413
        genuine = slash_command("why 30003", fake_slack.response_url("ok"))
        assert await post_signed(client, genuine) == 200
        await fake_slack.wait_for(lambda: fake_slack.calls("response/ok"))
    said = [r.getMessage() for r in caplog.records]
    refusals = [m for m in said if "refused" in m and "/slack/events" in m]
    assert refusals == [
        f"a request to /slack/events refused: bad signature; {len(forged)} bytes from 127.0.0.1"
    ]
    assert not any("forged line" in m or "response/f" in m or "xxxx" in m for m in said)
    assert not fake_slack.calls("response/f")


def test_refusals_are_counted_between_the_lines_they_leave():
    import logging as logging_module

    from bot.adapters.rejections import RejectionLog

    now = [0.0]
    records: list[str] = []

    class Keep(logging_module.Handler):
        def emit(self, record: logging_module.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging_module.getLogger("test.rejections")
    logger.addHandler(Keep())
    rejections = RejectionLog(logger, "a request", every_seconds=10, clock=lambda: now[0])
    for second in (0, 1, 2, 3, 11, 12):
        now[0] = second
        rejections.refused("bad\nsignature", 10, "10.0.0.1")
    assert records == [
        "a request refused: bad\\nsignature; 10 bytes from 10.0.0.1",
        "a request refused: bad\\nsignature; 10 bytes from 10.0.0.1"
        " (and 3 more since the last line)",
    ]


async def test_a_stale_signature_is_told_apart_from_a_bad_one(
    fake_slack, tmp_path, aiohttp_client, caplog
):
    """Issue 14, item 19: a clock off by minutes is the usual reason, and the log says so."""
    from aiohttp import web

    from bot.adapters import slack
    from tests.conftest import make_settings

    bolt = slack.build_app(make_settings(fake_slack, tmp_path), object())  # type: ignore[arg-type]
    app = web.Application()
    app.router.add_post(
        "/slack/events", slack.events_handler(bolt, SIGNING_SECRET, clock=lambda: time.time() + 900)
    )
    client = await aiohttp_client(app)
    body = slash_command("why 30003", fake_slack.response_url("late"))
    with caplog.at_level(logging.WARNING):
        assert await post_signed(client, body) == 401
    [line] = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert "stale timestamp (900 s from this host's clock; check it)" in line


async def test_slack_failing_auth_test_is_not_told_as_an_uninstalled_app(client, fake_slack):
    """Issue 14, item 12: a Slack 500 on auth.test told the user to reinstall the app."""
    from tests.fake_slack import Fault

    fake_slack.inject(Fault("auth.test", status=500))
    body = slash_command("why 30003", fake_slack.response_url("first"))
    response = await client.post("/slack/events", data=body, headers=signed_headers(body))
    said = await response.text()
    assert "reinstall" not in said.lower() and "no longer available" not in said
    assert "Slack may be failing: try again in a minute" in said
    assert (
        await post_signed(client, slash_command("why 30003", fake_slack.response_url("ok"))) == 200
    )
    await fake_slack.wait_for(lambda: fake_slack.calls("response/ok"))  # auth.test tried again


async def test_a_chunked_body_over_the_cap_is_refused_before_it_is_read_whole(client):
    """Review of issue 14: the 512 KB cap trusted Content-Length; a chunked body was read
    whole and checked."""

    async def chunks():
        for _ in range(20):
            yield b"x" * 50_000

    response = await client.post("/slack/events", data=chunks())
    assert response.status == 413
