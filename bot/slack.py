"""Slack: the Bolt app and its listeners. The only module that imports slack_bolt or slack_sdk.

Every listener acks first (Slack gives 3 seconds), then does the work and answers through
the command's `response_url`. HTTP requests reach Bolt through `handle_events`, which
translates aiohttp to Bolt and back; Socket Mode uses Bolt's own aiohttp handler.
"""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler

from bot import commands
from bot.blocks import DOCS_ACTION_ID, render
from bot.commands import Answer, Context, Notice
from bot.settings import Settings

log = logging.getLogger(__name__)

SLASH_COMMAND = "/twilio"
RATE_LIMIT_RETRIES = 3


def build_app(settings: Settings, context: Context) -> AsyncApp:
    # Bolt is given the token rather than a client of ours: with both, and the token also
    # in the environment, it logs that the token "will be unused", which misleads.
    app = AsyncApp(
        token=settings.slack_bot_token,
        signing_secret=settings.slack_signing_secret,
        # Socket Mode traffic is authenticated by the app token, not signed.
        request_verification_enabled=not settings.socket_mode,
    )
    app.client.base_url = settings.slack_api_url
    # Bolt's client does not retry a 429 by itself; this handler waits out Retry-After.
    app.client.retry_handlers.append(
        AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)
    )
    app.command(SLASH_COMMAND)(_command_listener(settings, context))
    app.action(DOCS_ACTION_ID)(_ack_only)
    return app


# What the app registers, for the manifest check.
COMMANDS = (SLASH_COMMAND,)
ACTIONS = (DOCS_ACTION_ID,)


def _command_listener(settings: Settings, context: Context) -> Callable[..., Awaitable[None]]:
    async def on_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        text = command.get("text", "")
        answer: Answer
        if refused := commands.refusal(
            command.get("user_id", ""),
            command.get("channel_id", ""),
            settings.allowed_users,
            settings.allowed_channels,
        ):
            answer = refused
        else:
            try:
                answer = await commands.answer(text, context)
            except Exception:
                # A bug, not a user error: keep the traceback, tell the user briefly.
                log.exception("/twilio %s failed", commands.echo(text))
                answer = Notice("Something went wrong on the bot's side; it has been logged.")
        fallback, blocks = render(answer, SLASH_COMMAND)
        reply = await respond(text=fallback, blocks=blocks, response_type="ephemeral")
        if reply.status_code != 200:
            log.warning("response_url answered HTTP %s: %s", reply.status_code, reply.body[:200])

    return on_command


async def _ack_only(ack: AsyncAck) -> None:
    # A link button still sends an action; unacknowledged, Slack shows the user a warning.
    await ack()


def events_handler(app: AsyncApp) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp handler for `/slack/events`: Bolt checks the signature, then dispatches."""

    async def handle_events(request: web.Request) -> web.StreamResponse:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    return handle_events


def socket_mode_connection(
    app: AsyncApp, settings: Settings
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry: the Socket Mode connection lives as long as the web app."""

    async def connection(_: web.Application) -> AsyncIterator[None]:
        handler = AsyncSocketModeHandler(app, settings.slack_app_token)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        log.info("connected to Slack in Socket Mode")
        yield
        await handler.close_async()  # type: ignore[no-untyped-call]

    return connection
