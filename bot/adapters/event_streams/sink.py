"""Sink: the webhook Twilio's Event Streams delivers to, checked, stored, answered.

`POST PUBLIC_URL/twilio/events` takes a batch (a JSON array of CloudEvents). When
EVENTS_USER and EVENTS_PASSWORD are set, the request must carry them as HTTP Basic
credentials (Twilio sends them when the sink URL holds them as `user:password@`), else
401. Then X-Twilio-Signature: for a JSON body Twilio puts the body's SHA-256 in the URL's
`bodySHA256` parameter and signs the URL with the Auth Token; twilio's RequestValidator
checks both against PUBLIC_URL (without the user info), else 403. A body that is not an
array of objects is 400; nothing of a refused body reaches the log.

The batch is stored in one transaction (Twilio gives a sink 5 s) and detection runs in
the watcher, which a batch with failures wakes early (`wake`). A registration event
(A2P 10DLC, toll-free) has the watcher read the registrations at its next cycle. A database that
fails gets 503, and Twilio delivers the batch again later.
"""

import base64
import binascii
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from urllib.parse import unquote

from aiohttp import web

from bot.adapters.event_streams.cloudevents import Unreadable, read_batch
from bot.adapters.rejections import RejectionLog
from bot.adapters.twilio.signatures import body_signature_valid, url_signature_valid
from bot.errors import StoreError
from bot.store import Store
from bot.store.encoding import REGISTRATIONS_EVENT, iso

log = logging.getLogger(__name__)

PATH = "/twilio/events"
SINK_TEST = "event_streams_test"  # the watcher-state name of the sink test ids received
TESTS_KEPT = 10
FAILED = frozenset({"undelivered", "failed"})
# A status event is about 700 bytes; Twilio's batches are far smaller than this.
MAX_BATCH_BYTES = 8 * 1024 * 1024


def event_sink(
    store: Store,
    public_url: str,
    auth_token: str,
    accounts: frozenset[str],
    credentials: tuple[str, str] | None = None,
    wake: Callable[[], None] = lambda: None,
    watched: frozenset[int] = frozenset(),
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler. `accounts`: the account SIDs whose events are kept (others are
    counted and left); `credentials`: the (user, password) a request must carry; `wake`:
    asks the watcher for a cycle soon, when a status changed to a failure with one of the
    `watched` codes, or a registration changed."""
    rejections = RejectionLog(log, "an Event Streams delivery")

    async def handle(request: web.Request) -> web.Response:
        size = request.content_length or 0
        if credentials is not None and not _basic_matches(
            request.headers.get("Authorization", ""), credentials
        ):
            rejections.refused("no or wrong Basic credentials", size, request.remote)
            return web.Response(
                status=401, text="credentials required", headers={"WWW-Authenticate": "Basic"}
            )
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or "bodySHA256" not in request.query:
            rejections.refused("not signed", size, request.remote)
            return web.Response(status=403, text="signature missing")
        # Twilio signs the URL it was given: behind a proxy, the public one counts, with
        # the path and query as they came over the wire. The URL alone carries the
        # signature (the body's hash is in it): a forged one is refused unread.
        url = public_url + request.raw_path
        if not url_signature_valid(auth_token, url, signature):
            rejections.refused("bad signature", size, request.remote)
            return web.Response(status=403, text="signature does not match")
        raw = await _body(request)
        if raw is None:
            rejections.refused("larger than any batch", size, request.remote)
            return web.Response(status=413, text="too large")
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            rejections.refused("a body that is not UTF-8", size, request.remote)
            return web.Response(status=400, text="not UTF-8")
        if not body_signature_valid(auth_token, url, body, signature):
            rejections.refused("a body that is not the one signed", size, request.remote)
            return web.Response(status=403, text="signature does not match")
        received = clock()
        try:
            batch = read_batch(raw, received)
        except Unreadable as exc:
            log.warning("an Event Streams delivery could not be read: %s", exc)
            return web.Response(status=400, text="expected a JSON array of CloudEvents")
        reports = [r for r in batch.reports if r.account_sid in accounts]
        if skipped := len(batch.reports) - len(reports):
            log.info("%d events of accounts not watched were left", skipped)
        if batch.unreadable:
            log.warning("%d status events without a usable SID or status", batch.unreadable)
        try:
            recorded = await store.messages.record_reports(reports, received)
            if batch.tests:
                await note_tests(store, batch.tests)
            if batch.compliance:  # the watcher reads the registrations soon
                await store.watcher.put(REGISTRATIONS_EVENT, iso(received))
        except StoreError:
            log.exception("an Event Streams batch of %d events not stored", len(reports))
            return web.Response(status=503)  # Twilio delivers it again
        failures = recorded.changed and any(
            r.message.status in FAILED and r.message.error_code in watched for r in reports
        )
        if failures or batch.compliance:
            wake()
        return web.json_response(
            {"stored": recorded.events, "repeated": recorded.repeated, "changed": recorded.changed}
        )

    return handle


async def _body(request: web.Request) -> bytes | None:
    """The body, read up to MAX_BATCH_BYTES (None past that, chunked or not): the app's
    own cap is Slack's, smaller than a batch of 500 events may be."""
    if (request.content_length or 0) > MAX_BATCH_BYTES:
        return None
    parts, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BATCH_BYTES:
            return None
        parts.append(chunk)
    return b"".join(parts)


def _basic_matches(header: str, credentials: tuple[str, str]) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    # `events setup` percent-encodes the credentials in the sink's URL; whether Twilio
    # decodes them before it sends them is not documented, so either form is taken.
    return _same((user, password), credentials) or _same(
        (unquote(user), unquote(password)), credentials
    )


def _same(given: tuple[str, str], expected: tuple[str, str]) -> bool:
    # Both compared whatever the first gives, in constant time.
    same_user = hmac.compare_digest(given[0].encode(), expected[0].encode())
    same_password = hmac.compare_digest(given[1].encode(), expected[1].encode())
    return same_user and same_password


async def received_tests(store: Store) -> list[str]:
    """The sink test ids received, oldest first (the last TESTS_KEPT)."""
    held = await store.watcher.get(SINK_TEST)
    if not held:
        return []
    try:
        ids = json.loads(held)
    except ValueError:
        return [held]  # one id, as kept before the list
    return [str(i) for i in ids] if isinstance(ids, list) else [held]


async def note_tests(store: Store, ids: Sequence[str]) -> None:
    """Keep test ids received. Twilio delivers at least once, so an earlier setup's test
    event may come again after the new one: each is kept, not only the last."""
    held = await received_tests(store)
    kept = [*held, *(i for i in ids if i not in held)][-TESTS_KEPT:]
    await store.watcher.put(SINK_TEST, json.dumps(kept))
