"""Transport: how Slack's requests reach Bolt. Over HTTP, an aiohttp handler checks the
signature before Bolt reads a byte and translates aiohttp to Bolt and back; over Socket
Mode, Bolt's own handler holds the connection for the life of the web app."""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import Clock, SignatureVerifier

from bot.adapters.rejections import RejectionLog
from bot.adapters.slack.listeners import MALFORMED, malformed
from bot.settings import Settings

log = logging.getLogger(__name__)

# A slash command is a few hundred bytes; a button's payload, which carries the message
# it sits on, at most tens of kilobytes.
MAX_BODY_BYTES = 512 * 1024
STALE_SECONDS = 300  # SignatureVerifier's window for the request's timestamp


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
            return await to_aiohttp_response(malformed(exc))
        try:
            response = await app.async_dispatch(bolt_request)
        except MALFORMED as exc:
            # Bolt reads a payload's fields while matching listeners, and again in its own
            # error handler: `"actions": []` or null raises from both, a 500 but for this.
            response = malformed(exc)
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
