"""Slack: the Bolt app and its listeners. The only module that imports slack_bolt or slack_sdk.

Every listener is an ack (Slack gives 3 seconds) and a lazy part that does the work and
answers through the command's `response_url`. HTTP requests reach Bolt through
`handle_events`, which translates aiohttp to Bolt and back; Socket Mode uses Bolt's own
aiohttp handler.
"""

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

import aiohttp
from aiohttp import ClientConnectorError, web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
)
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.adapters.rejections import RejectionLog
from bot.adapters.slack_poster import WEB_API_TIMEOUT_SECONDS, retry_handlers
from bot.answers import commands
from bot.answers.commands import Answer, Context, Notice
from bot.answers.message_report import MessageReport
from bot.domain.messages import sid_problem
from bot.errors import BotError
from bot.render.blocks import (
    ACK_ACTION_ID,
    DOCS_ACTION_ID,
    LOOKUP_ACTION_ID,
    MUTE_ACTION_IDS,
    SAMPLES_ACTION_ID,
    SHARE_ACTION_ID,
    render,
)
from bot.settings import Settings

log = logging.getLogger(__name__)

SLASH_COMMAND = "/twilio"
AUTH_FAILED = (
    "Slack did not confirm this bot's token just now, so the command was not run. Slack "
    "may be failing: try again in a minute. If it keeps happening, check SLACK_BOT_TOKEN "
    "(the bot's log says what Slack answered)."
)
MALFORMED = (ValueError, TypeError, AttributeError, KeyError, IndexError)
# A slash command is a few hundred bytes; a button's payload, which carries the message
# it sits on, at most tens of kilobytes.
MAX_BODY_BYTES = 512 * 1024
STALE_SECONDS = 300  # SignatureVerifier's window for the request's timestamp
# Waits before the second and third tries of an answer that response_url refused with a 5xx.
ANSWER_RETRY_SECONDS = (1.0, 3.0)


def build_app(settings: Settings, context: Context) -> AsyncApp:
    # Bolt is given the token rather than a client of ours: with both, and the token also
    # in the environment, it logs that the token "will be unused", which misleads.
    app = AsyncApp(
        logger=_bolt_logger(settings.log_level),
        # What a user reads when Bolt's auth.test fails. Bolt's own says the app was
        # uninstalled; most often Slack failed (a 5xx), and the next request tries again.
        user_facing_authorize_error_message=AUTH_FAILED,
        token=settings.slack_bot_token,
        signing_secret=settings.slack_signing_secret,
        # Socket Mode traffic is authenticated by the app token, not signed.
        request_verification_enabled=not settings.socket_mode,
        # Every listener is an ack plus a lazy part that does the work. Run this way, Bolt
        # answers Slack as soon as the ack is done; otherwise it polls every 10 ms for it,
        # which made the floor of every ack 10 ms and, in a burst, far more
        # (bench/commands.py).
        process_before_response=True,
    )
    app.client.base_url = settings.slack_api_url
    app.client.timeout = WEB_API_TIMEOUT_SECONDS
    app.client.retry_handlers.extend(retry_handlers())
    app.error(_on_error)
    app.command(SLASH_COMMAND)(ack=_ack_only, lazy=[_command_listener(settings, context)])
    for action_id, listener in _LISTENERS.items():
        if listener is None:
            app.action(action_id)(_ack_only)
        else:
            app.action(action_id)(ack=_ack_only, lazy=[listener(settings, context)])
    return app


def _bolt_logger(level: str) -> logging.Logger:
    """Bolt's logger, never below INFO. Left to itself, Bolt sets its loggers to the root's
    level, whatever their parents say, and its Web API client then logs every request and
    answer body at DEBUG (issue 14, item 13)."""
    logger = logging.getLogger("slack_bolt.AsyncApp")
    logger.setLevel(max(logging.INFO, logging.getLevelName(level)))
    return logger


@runtime_checkable
class Clicks(Protocol):
    async def first_click(self, key: str) -> bool: ...


REPLAYED = Notice("That click was handled already; nothing was done again.")


async def _replayed(body: dict[str, Any], context: object) -> Notice | None:
    """What to answer when this click was handled before, or None: Slack gives each
    interaction its own trigger_id, so a second request with the same one is a replay.
    A database that cannot record the click is said as such, like any answer needing it."""
    trigger = body.get("trigger_id")
    if not isinstance(trigger, str) or not trigger or not isinstance(context, Clicks):
        return None
    try:
        first = await context.first_click(f"{_action_value(body, 'action_id')}:{trigger}")
    except BotError as exc:
        log.warning("a click could not be recorded: %s", exc)
        return Notice(str(exc))
    return None if first else REPLAYED


@runtime_checkable
class Incidents(Protocol):
    async def incident_action(self, action: str, incident_id: str, user: str) -> str: ...

    async def deliver_changes(self) -> None: ...


def _command_listener(settings: Settings, context: Context) -> Callable[..., Awaitable[None]]:
    async def on_command(command: dict[str, Any], respond: AsyncRespond | None) -> None:
        text = command.get("text", "")
        user = command.get("user_id", "")
        answer = commands.refusal(
            user, command.get("channel_id", ""), settings.allowed_users, settings.allowed_channels
        ) or await _safely(commands.answer(text, context, user), f"/twilio {_first_word(text)}")
        await _reply(respond, answer, masked=False)

    return on_command


def _share_listener(settings: Settings, context: Context) -> Callable[..., Awaitable[None]]:
    """ "Share in channel": the same report, numbers masked, posted for everyone to read."""

    async def on_share(body: dict[str, Any], respond: AsyncRespond | None) -> None:
        sid = _action_value(body)
        refused = commands.refusal(
            _id_of(body, "user"),
            _id_of(body, "channel"),
            settings.allowed_users,
            settings.allowed_channels,
        )
        if refused is None and sid_problem(sid):
            refused = Notice("That button no longer carries a valid Message SID.")
        if refused is None:
            refused = await _replayed(body, context)
        if refused is not None:
            await _reply(respond, refused, masked=False)
            return
        # The same path as `/twilio why SM…`, so a Twilio fault reads the same way.
        answer = await _safely(commands.answer(f"why {sid}", context), f"share {sid}")
        await _reply(respond, answer, masked=isinstance(answer, MessageReport))

    return on_share


def _lookup_listener(settings: Settings, context: Context) -> Callable[..., Awaitable[None]]:
    """ "Look up this number": `/twilio lookup` for the number the button carries."""

    async def on_lookup(body: dict[str, Any], respond: AsyncRespond | None) -> None:
        number = _action_value(body)
        user = _id_of(body, "user")
        answer = commands.refusal(
            user,
            _id_of(body, "channel"),
            settings.allowed_users,
            settings.allowed_channels,
        ) or await _safely(commands.answer(f"lookup {number}", context, user), "lookup button")
        await _reply(respond, answer, masked=False)

    return on_lookup


def _incident_listener(
    settings: Settings, context: Context, action: str
) -> Callable[..., Awaitable[None]]:
    """An incident button: the change shows on the alert for everyone; the clicker gets a
    private word (or, for samples, the sample messages with their full numbers)."""

    async def on_incident(body: dict[str, Any], respond: AsyncRespond | None) -> None:
        incident_id = _action_value(body)
        user = _id_of(body, "user")
        # The alert channel need not be one where commands are allowed: users only.
        refused = commands.refusal(user, "", settings.allowed_users, frozenset())
        if refused is None and action != "samples":
            refused = await _replayed(body, context)
        if refused is None and isinstance(context, Incidents):
            try:
                refused = Notice(await context.incident_action(action, incident_id, user))
            except BotError as exc:
                refused = Notice(str(exc))
            except Exception:
                log.exception("incident button %s failed", action)
                refused = Notice("Something went wrong on the bot's side; it has been logged.")
        await _reply(respond, refused or Notice("Incidents are not handled here."), masked=False)
        # The alert's edit goes after the clicker has their answer, which must not wait
        # behind Slack's queue for the channel.
        if isinstance(context, Incidents) and action != "samples":
            try:
                await context.deliver_changes()
            except BotError as exc:  # Slack or the database: the next cycle sends it
                log.warning("the edit after incident button %s waits: %s", action, exc)
            except Exception:
                log.exception("the edit after incident button %s was not sent", action)

    return on_incident


def _id_of(body: dict[str, Any], key: str) -> str:
    """The `id` of the payload's user or channel, or "" when it is not there as Slack
    sends it (null, a bare string): an allowlist then refuses, and nothing raises."""
    found = body.get(key)
    value = found.get("id") if isinstance(found, dict) else None
    return value if isinstance(value, str) else ""


def _action_value(body: dict[str, Any], field: str = "value") -> str:
    """The clicked button's value (or another field), or "" when the payload has none a
    button would send."""
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    value = first.get(field) if isinstance(first, dict) else None
    return value if isinstance(value, str) else ""


Listener = Callable[..., Awaitable[None]]

# Every button the app answers, and its listener (None: a link, only acknowledged). The
# one list `build_app` registers from, and the manifest check reads.
_LISTENERS: dict[str, Callable[[Settings, Context], Listener] | None] = {
    SHARE_ACTION_ID: _share_listener,
    LOOKUP_ACTION_ID: _lookup_listener,
    DOCS_ACTION_ID: None,
    ACK_ACTION_ID: functools.partial(_incident_listener, action="ack"),
    SAMPLES_ACTION_ID: functools.partial(_incident_listener, action="samples"),
    **{
        action_id: functools.partial(_incident_listener, action=f"mute:{hours}")
        for action_id, hours in MUTE_ACTION_IDS.items()
    },
}
COMMANDS = (SLASH_COMMAND,)
ACTIONS = tuple(_LISTENERS)


async def _safely(answer: Awaitable[Answer], what: str) -> Answer:
    try:
        return await answer
    except BotError as exc:
        # Ours, worded for the reader: the database failing, Twilio not configured.
        log.warning("%s failed: %s", what, exc)
        return Notice(str(exc))
    except Exception:
        # A bug, not a user error: keep the traceback, tell the user briefly.
        log.exception("%s failed", what)
        return Notice("Something went wrong on the bot's side; it has been logged.")


def _first_word(text: str) -> str:
    # The rest may be a phone number, which logs must not carry.
    return commands.echo(commands.normalize(text).partition(" ")[0])


async def _reply(respond: AsyncRespond | None, answer: Answer, masked: bool) -> None:
    """Answer through response_url: privately, or, when `masked`, in the channel.

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
        timeout=WEB_API_TIMEOUT_SECONDS,
        logger=_ANSWER_LOG,
        retry_handlers=_answer_retry_handlers(),
    )
    waits = iter(ANSWER_RETRY_SECONDS)
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


def _answer_retry_handlers() -> list[AsyncRetryHandler]:
    # The Web API's, and a connection that was never opened: no outbox will send an answer
    # later, and nothing reached Slack. The webhook client sets a total timeout alone,
    # which aiohttp raises as a bare TimeoutError: no handler here retries it.
    return [
        *retry_handlers(),
        AsyncConnectionErrorRetryHandler(max_retry_count=2, error_types=[ClientConnectorError]),
    ]


async def _on_error(error: Exception, response: BoltResponse | None) -> BoltResponse | None:
    """Bolt's error handler. Listeners' work runs after the ack, so an error that reaches
    Bolt comes from reading the request: JSON of the wrong shape (a list for `actions`, a
    null `user`) makes its matchers raise, which by default is a 500."""
    if isinstance(error, MALFORMED) and response is not None:
        return _malformed(error)
    log.error("Bolt could not handle a request", exc_info=error)
    return None


def _malformed(error: Exception) -> BoltResponse:
    # Nothing of the body is logged: it may carry anything.
    log.warning("a malformed request to /slack/events refused (%s)", type(error).__name__)
    return BoltResponse(status=400, body="malformed request")


async def _ack_only(ack: AsyncAck) -> None:
    # Also alone, for the link button: it still sends an action, and unacknowledged, Slack
    # shows the user a warning.
    await ack()


def events_handler(
    app: AsyncApp, signing_secret: str, clock: Callable[[], float] = time.time
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp handler for `/slack/events`. The signature is checked here, with
    slack_sdk's SignatureVerifier, before Bolt reads anything: Bolt parses a body before
    it checks it, and logs a forged one whole. A refused request leaves one short line."""
    verifier = SignatureVerifier(signing_secret, clock=_Clock(clock))
    rejections = RejectionLog(log, "a request to /slack/events")

    async def handle_events(request: web.Request) -> web.StreamResponse:
        size = request.content_length or 0
        if size > MAX_BODY_BYTES:
            rejections.refused("larger than any Slack request", size, request.remote)
            return web.Response(status=413, text="too large")
        body = await request.read()
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        try:
            signed = verifier.is_valid(body, timestamp, signature)
        except ValueError:  # a timestamp that is not a number
            signed = False
        if not signed:
            reason = _why_unsigned(timestamp, signature, clock())
            rejections.refused(reason, len(body), request.remote)
            return web.Response(status=401, text="invalid request")
        try:
            bolt_request = await to_bolt_request(request)
        except MALFORMED as exc:
            # A signed body whose `payload` is not JSON fails here, and would be a 500.
            return await to_aiohttp_response(_malformed(exc))
        try:
            response = await app.async_dispatch(bolt_request)
        except MALFORMED as exc:
            # Bolt reads a payload's fields while matching listeners, and again in its own
            # error handler: `"actions": []` or null raises from both, a 500 but for this.
            response = _malformed(exc)
        return await to_aiohttp_response(response)

    return handle_events


class _Clock(Clock):
    """SignatureVerifier's clock, given by the caller (tests move it)."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


def _why_unsigned(timestamp: str, signature: str, now: float) -> str:
    """Why a request's signature does not hold, in words a log reader can act on: a
    stale timestamp usually means a clock off on this host, not an attacker."""
    if not signature or not timestamp:
        return "no signature"
    try:
        skew = now - int(timestamp)
    except ValueError:
        return "a timestamp that is not a number"
    if abs(skew) > STALE_SECONDS:
        return f"stale timestamp ({int(skew)} s from this host's clock; check it)"
    return "bad signature"


def socket_mode_connection(
    app: AsyncApp, settings: Settings
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry: the Socket Mode connection lives as long as the web app."""

    async def connection(_: web.Application) -> AsyncIterator[None]:
        handler = AsyncSocketModeHandler(app, settings.slack_app_token)
        # In the background: slack_sdk keeps retrying while Slack is unreachable, and the
        # web server (with /healthz) must come up meanwhile.
        connecting = asyncio.create_task(handler.connect_async())  # type: ignore[no-untyped-call]
        yield
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connecting
        await handler.close_async()  # type: ignore[no-untyped-call]

    return connection
