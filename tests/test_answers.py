"""Answers through response_url when Slack stumbles. Someone typed a command and waits:
an answer Slack did not take is sent again, one it may have shown is not, and what
cannot be sent is logged rather than raised."""

import logging
import socket

import aiohttp
import pytest
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.state import RetryState

from bot import app as bot_app
from bot.adapters.slack.replies import answer_retry_handlers
from bot.render.blocks import SHARE_ACTION_ID
from bot.tuning import Tuning
from tests.conftest import button_click, make_settings, post_signed, slash_command
from tests.fake_slack import Fault
from tests.support import until


@pytest.fixture
async def client(fake_slack, tmp_path, aiohttp_client):
    """The app, an answer Slack refused tried again after 10 ms rather than seconds, and
    given up after 2 s (the fake's hangs outlast that)."""
    quick = Tuning(answer_retry_seconds=(0.01, 0.01), slack_timeout_seconds=2)
    return await aiohttp_client(bot_app.build(make_settings(fake_slack, tmp_path), quick))


def not_sent(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "an answer was not sent" in r.getMessage()]


async def test_an_answer_refused_with_429_then_5xx_arrives_once(client, fake_slack, caplog):
    fake_slack.inject(Fault(method="response", status=429, retry_after=0))
    fake_slack.inject(Fault(method="response", status=500))
    fake_slack.inject(Fault(method="response", status=503))
    assert (
        await post_signed(client, slash_command("why 30003", fake_slack.response_url("r"))) == 200
    )
    await until(lambda: fake_slack.answered == 1)
    tries = fake_slack.calls("response/r")
    assert len(tries) == 4
    assert all(t == tries[0] for t in tries)  # the same answer each time
    assert tries[-1]["text"].startswith("30003 · Unreachable destination handset")
    assert not not_sent(caplog)


async def test_a_connection_dropped_midway_is_not_tried_again(client, fake_slack, caplog):
    # Slack read the whole answer before the connection went: it may be showing it.
    fake_slack.inject(Fault(method="response", status=0))
    assert (
        await post_signed(client, slash_command("why 30002", fake_slack.response_url("r"))) == 200
    )
    await until(lambda: bool(not_sent(caplog)))
    assert not_sent(caplog) == [
        "an answer was not sent: response_url did not answer (ServerDisconnectedError)"
    ]
    assert len(fake_slack.calls("response/r")) == 1


async def test_only_a_connection_never_opened_is_tried_again(fake_slack):
    """The handlers given to slack_sdk, against what aiohttp really raises."""
    fake_slack.inject(Fault(method="response", status=0))
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ServerDisconnectedError) as dropped:
            await session.post(fake_slack.response_url("drop"), json={})
        with socket.socket() as unused:  # a port nothing listens on
            unused.bind(("127.0.0.1", 0))
            port = unused.getsockname()[1]
        with pytest.raises(aiohttp.ClientConnectorError) as refused:
            await session.post(f"http://127.0.0.1:{port}/response/r", json={})
    request = HttpRequest(method="POST", url="http://127.0.0.1/", headers={})

    async def retried(error: Exception) -> bool:
        handlers = answer_retry_handlers()
        verdicts = [
            await h.can_retry_async(state=RetryState(), request=request, error=error)
            for h in handlers
        ]
        return any(verdicts)

    assert await retried(refused.value)
    assert not await retried(dropped.value)
    assert not await retried(TimeoutError())


async def test_the_response_url_never_reaches_the_log(client, fake_slack, caplog):
    # slack_sdk logs the URL at INFO when it retries, if its logger lets it.
    caplog.set_level(logging.DEBUG)
    fake_slack.inject(Fault(method="response", status=429, retry_after=0))
    fake_slack.inject(Fault(method="response", status=503))
    assert (
        await post_signed(client, slash_command("why 30002", fake_slack.response_url("r"))) == 200
    )
    await until(lambda: fake_slack.answered == 1)
    fake_slack.inject(Fault(method="response", status=0))
    assert (
        await post_signed(client, slash_command("why 30002", fake_slack.response_url("s"))) == 200
    )
    await until(lambda: bool(not_sent(caplog)))
    assert len(fake_slack.calls("response/r")) == 3
    logged = [r.getMessage() for r in caplog.records if r.name != "aiohttp.access"]  # the fake's
    assert logged and not [line for line in logged if "/response/" in line]


async def test_an_answer_still_refused_is_logged_not_raised(client, fake_slack, caplog):
    fake_slack.inject(Fault(method="response", status=503, times=10))
    assert (
        await post_signed(client, slash_command("why 30002", fake_slack.response_url("r"))) == 200
    )
    await until(lambda: bool(not_sent(caplog)))
    assert len(fake_slack.calls("response/r")) == 3  # the first try and two more
    assert fake_slack.answered == 0
    assert not_sent(caplog) == [
        "an answer was not sent: response_url answered HTTP 503: fatal_error"
    ]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_expired_response_url_is_not_tried_again(client, fake_slack, caplog):
    fake_slack.inject(Fault(method="response", status=404))
    assert (
        await post_signed(client, slash_command("why 30002", fake_slack.response_url("r"))) == 200
    )
    await until(lambda: bool(not_sent(caplog)))
    assert len(fake_slack.calls("response/r")) == 1


async def test_an_answer_that_may_have_been_shown_is_not_sent_twice(client, fake_slack, caplog):
    fake_slack.inject(Fault(method="response", status=0, retry_after=5))  # a hang
    assert (
        await post_signed(client, slash_command("why 30002", fake_slack.response_url("r"))) == 200
    )
    await until(lambda: bool(not_sent(caplog)))
    assert not_sent(caplog) == [
        "an answer was not sent: response_url did not answer (TimeoutError)"
    ]
    assert len(fake_slack.calls("response/r")) == 1


async def test_a_click_without_a_response_url_is_logged(client, fake_slack, caplog):
    body = button_click(SHARE_ACTION_ID, "SM" + "0" * 32, fake_slack.response_url("r"))
    body = body.replace("response_url", "no_url")
    assert await post_signed(client, body) == 200
    await until(lambda: "without a response_url" in caplog.text)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
