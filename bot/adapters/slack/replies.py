"""Replies: answers sent through a command's or a button's response_url, retried where
Slack surely did not take them."""

import asyncio
import logging
from dataclasses import dataclass

import aiohttp
from aiohttp import ClientConnectorError
from slack_bolt.async_app import AsyncRespond
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.adapters.slack.poster import retry_handlers
from bot.answers.commands import Answer
from bot.render.blocks import render
from bot.tuning import DEFAULT_TUNING

log = logging.getLogger(__name__)

SLASH_COMMAND = "/twilio"


@dataclass(frozen=True)
class Replies:
    """Answers through a command's or a button's response_url."""

    timeout_seconds: int = DEFAULT_TUNING.slack_timeout_seconds
    retry_seconds: tuple[float, ...] = DEFAULT_TUNING.answer_retry_seconds

    async def send(self, respond: AsyncRespond | None, answer: Answer, masked: bool) -> None:
        """Privately, or, when `masked`, in the channel.

        Someone is waiting for it and no outbox will send it later, so a refusal that says
        Slack did not take it is tried again: a 429 (after Retry-After) or a connection that
        could not be opened by slack_sdk's own handlers, a 5xx here. A timeout or a connection
        dropped midway is not: the answer may have been shown, and a second copy would be.
        What still fails is logged, never raised: the listener has nothing left to do with it."""
        if respond is None or respond.response_url is None:
            log.warning("a request without a response_url: its answer cannot be sent")
            return
        fallback, blocks = render(answer, SLASH_COMMAND, masked=masked)
        client = AsyncWebhookClient(
            url=respond.response_url,
            proxy=respond.proxy,
            ssl=respond.ssl,
            timeout=self.timeout_seconds,
            logger=_ANSWER_LOG,
            retry_handlers=answer_retry_handlers(),
        )
        waits = iter(self.retry_seconds)
        while True:
            try:
                reply = await client.send(
                    text=fallback,
                    blocks=blocks,
                    response_type="in_channel" if masked else "ephemeral",
                    replace_original=False,
                )
            # ValueError: slack_sdk reads Retry-After with int(), and Slack's could be "1.5".
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                # Not the exception's text: it may carry the URL, which lets anyone answer.
                log.warning(
                    "an answer was not sent: response_url did not answer (%s)", type(exc).__name__
                )
                return
            if reply.status_code < 500 or (wait := next(waits, None)) is None:
                break
            log.info("response_url answered HTTP %s; trying again in %ss", reply.status_code, wait)
            await asyncio.sleep(wait)
        if reply.status_code != 200:
            log.warning(
                "an answer was not sent: response_url answered HTTP %s: %s",
                reply.status_code,
                reply.body[:200],
            )


# slack_sdk's webhook client logs the URL (at INFO on a retry, whatever the level of its
# parents) unless its own logger's level is above DEBUG; the URL lets anyone answer.
_ANSWER_LOG = logging.getLogger(f"{__name__}.response_url")
_ANSWER_LOG.setLevel(logging.WARNING)


def answer_retry_handlers() -> list[AsyncRetryHandler]:
    # The Web API's, and a connection that was never opened: no outbox will send an answer
    # later, and nothing reached Slack. The webhook client sets a total timeout alone,
    # which aiohttp raises as a bare TimeoutError: no handler here retries it.
    return [
        *retry_handlers(),
        AsyncConnectionErrorRetryHandler(max_retry_count=2, error_types=[ClientConnectorError]),
    ]
