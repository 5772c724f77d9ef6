"""Slack: the Bolt app and its listeners. The only module that imports slack_bolt or slack_sdk.

Every listener is an ack (Slack gives 3 seconds) and a lazy part that does the work and
answers through the command's `response_url`. HTTP requests reach Bolt through
`handle_events`, which translates aiohttp to Bolt and back; Socket Mode uses Bolt's own
aiohttp handler.
"""

import asyncio
import contextlib
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
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import commands
from bot.blocks import (
    ACK_ACTION_ID,
    DOCS_ACTION_ID,
    LOOKUP_ACTION_ID,
    MUTE_ACTION_IDS,
    SAMPLES_ACTION_ID,
    SHARE_ACTION_ID,
    render,
)
from bot.commands import Answer, Context, Notice
from bot.errors import SlackError, SlackMisconfigured, SlackRejected, SlackUnavailable
from bot.message_report import MessageReport
from bot.messages import sid_problem
from bot.privacy import RejectionLog
from bot.settings import Settings

log = logging.getLogger(__name__)

SLASH_COMMAND = "/twilio"
RATE_LIMIT_RETRIES = 3
# The longest Retry-After waited out in place, as for Twilio: a longer one leaves the post
# in the outbox for a later cycle (or the answer to the log) rather than stall everything.
MAX_RETRY_AFTER_SECONDS = 30
MALFORMED = (ValueError, TypeError, AttributeError, KeyError, IndexError)
WEB_API_TIMEOUT_SECONDS = 10
# Waits before the second and third tries of an answer that response_url refused with a 5xx.
ANSWER_RETRY_SECONDS = (1.0, 3.0)

# Slack's ok=false errors (https://api.slack.com/methods/chat.postMessage#errors) that
# say Slack is busy or failing, whatever the HTTP status: the call may go later.
BUSY_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "message_limit_exceeded",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)
_TOKEN_FIX = (
    "Slack rejects SLACK_BOT_TOKEN ({error}): reinstall the app to the workspace and set "
    "SLACK_BOT_TOKEN to its new xoxb- token."
)
_SCOPE_FIX = (
    "The Slack app lacks a permission it needs ({error}): update it from manifest.yml "
    "(scopes commands, chat:write, chat:write.public) and reinstall it."
)
# Errors that no retry changes, only a person: what they should do. {channel} is the
# channel of the call; token and scope errors hold every channel.
SETUP_ERRORS = {
    "channel_not_found": (
        "Slack finds no channel {channel} that the bot can see: set SLACK_ALERT_CHANNEL to "
        "the channel's ID (C…, at the bottom of its details), and invite the bot to it "
        "first if it is private."
    ),
    "not_in_channel": (
        "The bot is not a member of channel {channel}: invite it (type /invite and the "
        "app's name in that channel)."
    ),
    "is_archived": (
        "Channel {channel} is archived: unarchive it, or set SLACK_ALERT_CHANNEL to another."
    ),
    "restricted_action": (
        "The workspace does not let apps post in channel {channel}: allow it, or set "
        "SLACK_ALERT_CHANNEL to another channel."
    ),
    "invalid_auth": _TOKEN_FIX,
    "not_authed": _TOKEN_FIX,
    "token_revoked": _TOKEN_FIX,
    "token_expired": _TOKEN_FIX,
    "account_inactive": _TOKEN_FIX,
    "not_allowed_token_type": _TOKEN_FIX,
    "missing_scope": _SCOPE_FIX,
    "no_permission": _SCOPE_FIX,
}
CHANNEL_ERRORS = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "restricted_action"}
)


def build_app(settings: Settings, context: Context) -> AsyncApp:
    # Bolt is given the token rather than a client of ours: with both, and the token also
    # in the environment, it logs that the token "will be unused", which misleads.
    app = AsyncApp(
        logger=_bolt_logger(settings.log_level),
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
    app.client.retry_handlers.extend(_retry_handlers())
    app.error(_on_error)
    app.command(SLASH_COMMAND)(ack=_ack_only, lazy=[_command_listener(settings, context)])
    app.action(SHARE_ACTION_ID)(ack=_ack_only, lazy=[_share_listener(settings, context)])
    app.action(LOOKUP_ACTION_ID)(ack=_ack_only, lazy=[_lookup_listener(settings, context)])
    app.action(DOCS_ACTION_ID)(_ack_only)
    incidents = {ACK_ACTION_ID: "ack", SAMPLES_ACTION_ID: "samples"}
    incidents |= {action_id: f"mute:{hours}" for action_id, hours in MUTE_ACTION_IDS.items()}
    for action_id, action in incidents.items():
        app.action(action_id)(ack=_ack_only, lazy=[_incident_listener(settings, context, action)])
    return app


def _bolt_logger(level: str) -> logging.Logger:
    """Bolt's logger, never below INFO. Left to itself, Bolt sets its loggers to the root's
    level, whatever their parents say, and its Web API client then logs every request and
    answer body at DEBUG (issue 14, item 13)."""
    logger = logging.getLogger("slack_bolt.AsyncApp")
    logger.setLevel(max(logging.INFO, logging.getLevelName(level)))
    return logger


def web_client(settings: Settings) -> AsyncWebClient:
    """A Web API client for work outside Bolt, such as `poll --once`."""
    return AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=WEB_API_TIMEOUT_SECONDS,
        retry_handlers=_retry_handlers(),
    )


def _retry_handlers() -> list[AsyncRetryHandler]:
    # slack_sdk's clients retry nothing by themselves. A 429 means Slack did not take the
    # post, so waiting out Retry-After and sending again is safe. A 5xx or a lost connection
    # may come after Slack posted it: those are left in the outbox for the next cycle
    # rather than resent at once, which keeps the window for a duplicate small.
    return [_CappedRateLimitHandler(max_retry_count=RATE_LIMIT_RETRIES)]


class _CappedRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, for a Retry-After of at most MAX_RETRY_AFTER_SECONDS
    whole seconds (it reads the header with int()); any other 429 is left to the caller."""

    async def _can_retry_async(self, **kwargs: Any) -> bool:
        response = kwargs.get("response")
        if not await super()._can_retry_async(**kwargs) or response is None:
            return False
        value = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), ["1"])
        try:
            return int(value[0]) <= MAX_RETRY_AFTER_SECONDS
        except (ValueError, TypeError, IndexError):
            return False


class Poster:
    """The watcher's way into a channel: post, reply in a thread, edit."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def post(
        self, channel: str, text: str, blocks: list[Any], thread_ts: str | None = None
    ) -> tuple[str, str]:
        """Returns (channel ID, ts) of the new message."""
        kwargs: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        response = await _web_call(self.client.chat_postMessage(**kwargs), channel)
        return str(response["channel"]), str(response["ts"])

    async def update(self, channel: str, ts: str, text: str, blocks: list[Any]) -> None:
        await _web_call(
            self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks), channel
        )

    async def permalink(self, channel: str, ts: str) -> str | None:
        """A link to a message, or None when Slack cannot say: a status still answers."""
        try:
            response = await _web_call(
                self.client.chat_getPermalink(channel=channel, message_ts=ts), channel
            )
        except SlackError as exc:
            log.info("no permalink for %s/%s: %s", channel, ts, exc)
            return None
        return str(response.get("permalink") or "") or None


async def _web_call(call: Awaitable[Any], channel: str | None = None) -> Any:
    try:
        return await call
    except SlackApiError as exc:
        if not hasattr(exc.response, "status_code"):
            # slack_sdk could not read the answer (cut short, not JSON): held like a 5xx.
            raise SlackUnavailable("Slack's answer could not be read") from exc
        status = exc.response.status_code
        data = exc.response.data
        if status == 429 or status >= 500:
            raise SlackUnavailable(f"Slack answered HTTP {status}") from exc
        # Only a JSON object with `ok: false` is Slack saying no. Anything else (an HTML
        # page from a proxy, a firewall or a maintenance screen; JSON without `ok`) is an
        # answer Slack did not write: an outage, held and tried again, never given up.
        if not (isinstance(data, dict) and data.get("ok") is False):
            raise SlackUnavailable(f"an answer Slack did not write (HTTP {status})") from exc
        error = str(data.get("error") or "")
        if error in BUSY_ERRORS:
            raise SlackUnavailable(f"Slack is busy ({error})") from exc
        if error in SETUP_ERRORS:
            fix = SETUP_ERRORS[error].format(error=error, channel=channel)
            held = channel if error in CHANNEL_ERRORS else None
            raise SlackMisconfigured(f"Slack refused: {error}", fix, held) from exc
        raise SlackRejected(f"Slack refused: {error or status}") from exc
    except (AttributeError, TypeError) as exc:
        # slack_sdk checks `ok` with `.get` on whatever came back: a text/plain body or a
        # JSON list fails in its hands, not ours.
        raise SlackUnavailable("an answer Slack did not write (not a JSON object)") from exc
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise SlackUnavailable(f"Slack did not answer ({type(exc).__name__})") from exc


# What the app registers, for the manifest check.
COMMANDS = (SLASH_COMMAND,)
ACTIONS = (
    SHARE_ACTION_ID,
    LOOKUP_ACTION_ID,
    DOCS_ACTION_ID,
    ACK_ACTION_ID,
    *MUTE_ACTION_IDS,
    SAMPLES_ACTION_ID,
)


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
        sid = str((body.get("actions") or [{}])[0].get("value", ""))
        refused = commands.refusal(
            body.get("user", {}).get("id", ""),
            body.get("channel", {}).get("id", ""),
            settings.allowed_users,
            settings.allowed_channels,
        )
        if refused or sid_problem(sid):
            notice = refused or Notice("That button no longer carries a valid Message SID.")
            await _reply(respond, notice, masked=False)
            return
        # The same path as `/twilio why SM…`, so a Twilio fault reads the same way.
        answer = await _safely(commands.answer(f"why {sid}", context), f"share {sid}")
        await _reply(respond, answer, masked=isinstance(answer, MessageReport))

    return on_share


def _lookup_listener(settings: Settings, context: Context) -> Callable[..., Awaitable[None]]:
    """ "Look up this number": `/twilio lookup` for the number the button carries."""

    async def on_lookup(body: dict[str, Any], respond: AsyncRespond | None) -> None:
        number = str((body.get("actions") or [{}])[0].get("value", ""))
        user = body.get("user", {}).get("id", "")
        answer = commands.refusal(
            user,
            body.get("channel", {}).get("id", ""),
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
        incident_id = str((body.get("actions") or [{}])[0].get("value", ""))
        user = body.get("user", {}).get("id", "")
        # The alert channel need not be one where commands are allowed: users only.
        refused = commands.refusal(user, "", settings.allowed_users, frozenset())
        if refused is None and isinstance(context, Incidents):
            try:
                refused = Notice(await context.incident_action(action, incident_id, user))
            except Exception:
                log.exception("incident button %s failed", action)
                refused = Notice("Something went wrong on the bot's side; it has been logged.")
        await _reply(respond, refused or Notice("Incidents are not handled here."), masked=False)
        # The alert's edit goes after the clicker has their answer, which must not wait
        # behind Slack's queue for the channel.
        if isinstance(context, Incidents) and action != "samples":
            try:
                await context.deliver_changes()
            except Exception:
                log.exception("the edit after incident button %s was not sent", action)

    return on_incident


async def _safely(answer: Awaitable[Answer], what: str) -> Answer:
    try:
        return await answer
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
        *_retry_handlers(),
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
            # Bolt reads the body before it checks the signature: a `payload` that is not
            # JSON fails here, and would be a 500.
            return await to_aiohttp_response(_malformed(exc))
        return await to_aiohttp_response(await app.async_dispatch(bolt_request))

    return handle_events


MAX_BODY_BYTES = 512 * 1024  # a slash command is a few hundred bytes; a button's payload,
# which carries the message it sits on, at most tens of kilobytes
STALE_SECONDS = 300  # SignatureVerifier's window for the request's timestamp


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
