"""Answers through response_url when Slack stumbles. Someone typed a command and waits:
an answer Slack did not take is sent again, one it may have shown is not, and what
cannot be sent is logged rather than raised."""

import asyncio
import logging
from collections.abc import Callable

import pytest

from bot.blocks import SHARE_ACTION_ID
from tests.conftest import button_click, post_signed, slash_command
from tests.fake_slack import Fault

pytestmark = pytest.mark.usefixtures("quick_retries")


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.slack.ANSWER_RETRY_SECONDS", (0.01, 0.01))


async def until(condition: Callable[[], bool], seconds: float = 10) -> None:
    """Wait, checking every 10 ms, for what happens after the last request Slack saw."""
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


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


async def test_a_dropped_connection_is_tried_again(client, fake_slack):
    fake_slack.inject(Fault(method="response", status=0))
    assert (
        await post_signed(client, slash_command("why 30002", fake_slack.response_url("r"))) == 200
    )
    await until(lambda: fake_slack.answered == 1)
    assert len(fake_slack.calls("response/r")) == 2


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


async def test_an_answer_that_may_have_been_shown_is_not_sent_twice(
    client, fake_slack, caplog, monkeypatch
):
    monkeypatch.setattr("bot.slack.WEB_API_TIMEOUT_SECONDS", 0.5)
    fake_slack.inject(Fault(method="response", status=0, retry_after=3))  # a hang
    assert (
        await post_signed(client, slash_command("why 30002", fake_slack.response_url("r"))) == 200
    )
    await until(lambda: bool(not_sent(caplog)))
    assert not_sent(caplog) == [
        "an answer was not sent: response_url did not answer (TimeoutError)"
    ]
    assert len(fake_slack.calls("response/r")) == 1
    assert "/response/" not in caplog.text  # the URL lets anyone answer: never logged


async def test_a_click_without_a_response_url_is_logged(client, fake_slack, caplog):
    body = button_click(SHARE_ACTION_ID, "SM" + "0" * 32, fake_slack.response_url("r"))
    body = body.replace("response_url", "no_url")
    assert await post_signed(client, body) == 200
    await until(lambda: "without a response_url" in caplog.text)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
