"""Webhook: Twilio's message StatusCallback, checked and stored for the next evaluation.

Point a Messaging Service (or the StatusCallback of each send) at
`PUBLIC_URL/twilio/status-callback`. Each request is checked with twilio's
RequestValidator against PUBLIC_URL and the Auth Token: a bad or missing signature gets
403 and changes nothing. A good one upserts the message, so detection sees a new
`undelivered` without waiting for the next poll.
"""

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web

from bot.adapters.rejections import RejectionLog
from bot.adapters.twilio import signature_valid
from bot.domain.messages import Message
from bot.errors import StoreError
from bot.store import Store

log = logging.getLogger(__name__)

PATH = "/twilio/status-callback"


def status_callback(
    store: Store,
    public_url: str,
    auth_token: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Callable[[web.Request], Awaitable[web.Response]]:
    rejections = RejectionLog(log, "a StatusCallback")

    async def handle(request: web.Request) -> web.Response:
        signature = request.headers.get("X-Twilio-Signature", "")
        size = request.content_length or 0
        if not signature:
            rejections.refused("no signature", size, request.remote)
            return web.Response(status=403, text="signature missing")
        try:
            form = {key: str(value) for key, value in (await request.post()).items()}
        except (ValueError, LookupError):
            return web.Response(status=400, text="not a form")  # e.g. a broken multipart body
        # Twilio signs the URL it was given, exactly as given: behind a proxy the public
        # one is what counts, with the path and query as they came over the wire.
        url = public_url.rstrip("/") + request.raw_path
        if not signature_valid(auth_token, url, form, signature):
            rejections.refused("bad signature", size, request.remote)
            return web.Response(status=403, text="signature does not match")
        message = _reported_message(form, clock())
        if message is None:
            return web.Response(status=400, text="MessageSid and MessageStatus are required")
        try:
            await store.messages.record_status(message, _decided(form.get("RawDlrDoneDate", "")))
        except StoreError:
            log.exception("StatusCallback for %s not stored", message.sid)
            return web.Response(status=503)  # Twilio retries some failures; the poll will too
        return web.Response(status=204)

    return handle


def _decided(raw: str) -> str | None:
    """Twilio's RawDlrDoneDate, when the carrier decided the delivery (YYMMDDhhmm, in the
    carrier's own time zone), kept as Twilio sent it; None when it is not that."""
    return raw if re.fullmatch(r"[0-9]{10}", raw) else None


def _reported_message(form: dict[str, str], now: datetime) -> Message | None:
    sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "")
    if not sid or not status:
        return None
    code = form.get("ErrorCode", "")
    # Its real dates come with the next poll; until then, when Twilio reported it.
    return Message(
        sid=sid,
        status=status,
        to=form.get("To", ""),
        from_=form.get("From", ""),
        direction="outbound-api",  # StatusCallbacks are sent for messages the account sends
        error_code=int(code) if re.fullmatch(r"[0-9]{1,6}", code) else None,
        messaging_service_sid=form.get("MessagingServiceSid") or None,
        date_created=now,
        date_sent=None,
        date_updated=now,
        account_sid=form.get("AccountSid") or None,
    )
