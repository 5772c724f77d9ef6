"""Event Streams in the simulator: the Events API (v1 Sinks, with Test and Validate, and
Subscriptions) and the pushes a webhook sink receives, as Twilio makes them.

A push is a POST of a JSON array of CloudEvents to the sink's destination. Twilio puts
the body's SHA-256 in the URL's `bodySHA256` parameter, signs that URL with the account's
Auth Token (X-Twilio-Signature), and sends the destination's `user:password@` as HTTP
Basic. `reachable` maps a public origin (what PUBLIC_URL names) to where the bot really
listens, as a proxy would: the URL is signed as given and posted to the local address.
"""

import asyncio
import base64
import hashlib
import hmac
import io
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web
from yarl import URL

from bot.simulation.scenario import Scenario, SimMessage, make_sid

STATUS_TYPE = "com.twilio.messaging.message."
STATUS_TYPES = [STATUS_TYPE + s for s in ("sent", "delivered", "undelivered", "failed")]
TEST_TYPE = "com.twilio.eventstreams.test-event"
PUSH_TIMEOUT_SECONDS = 5.0  # what Twilio gives a sink


@dataclass(frozen=True)
class Delivery:
    """One push: where, how many events, the sink's answer (its status, and its body if
    JSON), and how long it took."""

    url: str
    events: int
    status: int
    seconds: float
    answer: Any = None


@dataclass
class EventStreams:
    scenario: Scenario
    sinks: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    reachable: dict[str, str] = field(default_factory=dict)  # public origin -> local origin
    deliveries: list[Delivery] = field(default_factory=list)
    # At least once: a sink's earlier test events delivered again after each new one.
    redeliver_tests: bool = False
    _session: ClientSession | None = None
    _pending: set["asyncio.Task[None]"] = field(default_factory=set)
    _made: int = 0

    async def close(self, _: web.Application | None = None) -> None:
        """Every push finished, and the session closed."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    # -- pushing -----------------------------------------------------------------------

    async def publish(
        self, account_sid: str, events: list[dict[str, Any]], batch_size: int = 100
    ) -> list[Delivery]:
        """Push `events` (see `status_event`) to every webhook sink of `account_sid`
        subscribed to their types, `batch_size` a request, as Twilio would."""
        made = []
        for sink in self.sinks.values():
            if sink["account_sid"] != account_sid or sink["sink_type"] != "webhook":
                continue
            wanted = self._types_of(sink["sid"])
            chosen = [e for e in events if e["type"] in wanted]
            for i in range(0, len(chosen), batch_size):
                made.append(await self.push(sink, chosen[i : i + batch_size]))
        return made

    def new_sid(self, prefix: str) -> str:
        self._made += 1
        return make_sid(prefix, self._made, id(self))

    def send_later(self, sink: dict[str, Any], events: list[dict[str, Any]]) -> None:
        """A push after the current answer, as Twilio sends a sink's test event."""
        task = asyncio.create_task(self._push_quietly(sink, events))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _push_quietly(self, sink: dict[str, Any], events: list[dict[str, Any]]) -> None:
        await self.push(sink, events)

    def add_webhook(self, account_sid: str, destination: str, types: list[str]) -> dict[str, Any]:
        """A webhook sink subscribed to `types`, as `events setup` would make it."""
        sid = self.new_sid("DG")
        self.sinks[sid] = {
            "sid": sid,
            "account_sid": account_sid,
            "description": "added by the test",
            "sink_configuration": {"destination": destination, "method": "POST"},
            "sink_type": "webhook",
            "status": "active",
            "date_created": now_text(),
            "date_updated": now_text(),
            "url": f"https://events.twilio.com/v1/Sinks/{sid}",
            "links": {},
        }
        subscription = self.new_sid("DF")
        self.subscriptions[subscription] = {
            "sid": subscription,
            "account_sid": account_sid,
            "description": "added by the test",
            "sink_sid": sid,
            "types": [{"type": t, "schema_version": 1} for t in types],
        }
        return self.sinks[sid]

    async def push(self, sink: dict[str, Any], events: list[dict[str, Any]]) -> Delivery:
        """One signed POST of `events` to the sink's destination; its answer."""
        return await self.push_body(sink, json.dumps(events, separators=(",", ":")), len(events))

    async def push_body(self, sink: dict[str, Any], body: str, events: int = 0) -> Delivery:
        """One POST of `body` to the sink's destination, signed as Twilio signs."""
        destination = URL(sink["sink_configuration"]["destination"])
        digest = hashlib.sha256(body.encode()).hexdigest()
        signed = destination.with_user(None).update_query(bodySHA256=digest)
        token = self.scenario.accounts[sink["account_sid"]].auth_token
        headers = {
            "Content-Type": "application/json",
            "X-Twilio-Signature": signature(token, str(signed)),
        }
        if destination.user is not None:
            pair = f"{destination.user}:{destination.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        origin = str(signed.origin())
        target = self.reachable.get(origin, origin) + signed.raw_path_qs
        if self._session is None:
            self._session = ClientSession(timeout=ClientTimeout(total=PUSH_TIMEOUT_SECONDS))
        began = time.perf_counter()
        try:
            async with self._session.post(
                URL(target, encoded=True), data=io.BytesIO(body.encode()), headers=headers
            ) as response:
                status = response.status
                answer = (
                    await response.json() if response.content_type == "application/json" else None
                )
        except (TimeoutError, OSError):
            status, answer = 0, None  # no answer in time: Twilio would deliver it again later
        delivery = Delivery(str(signed), events, status, time.perf_counter() - began, answer)
        self.deliveries.append(delivery)
        return delivery

    def _types_of(self, sink_sid: str) -> set[str]:
        return {
            t["type"]
            for s in self.subscriptions.values()
            if s["sink_sid"] == sink_sid
            for t in s["types"]
        }


def signature(auth_token: str, url: str) -> str:
    """X-Twilio-Signature of a request with no form fields: the HMAC-SHA1 of its full URL,
    keyed by the Auth Token, in base64 (written here, not taken from twilio-python, so
    the bot's check with the library meets an independent signer)."""
    digest = hmac.new(auth_token.encode(), url.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def status_event(
    m: SimMessage, at: datetime | None = None, event_id: str | None = None
) -> dict[str, Any]:
    """The CloudEvent Twilio sends when `m` takes its current status."""
    moment = at or m.date_updated or m.date_created
    data = {
        "accountSid": m.account_sid,
        "messageSid": m.sid,
        "from": m.from_,
        "to": m.to,
        "messageStatus": m.status.upper(),
        "errorCode": m.error_code,
        "messagingServiceSid": m.messaging_service_sid,
        "numberOfSegments": m.num_segments,
        "timestamp": iso(moment),
        "eventName": STATUS_TYPE + m.status,
    }
    return cloud_event(
        STATUS_TYPE + m.status,
        f"/2010-04-01/Accounts/{m.account_sid}/Messages/{m.sid}.json",
        data,
        moment,
        event_id or make_sid("EZ", m.sid, m.status, m.error_code),
    )


def cloud_event(
    kind: str, source: str, data: dict[str, Any], at: datetime, event_id: str, schema: str = ""
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "type": kind,
        "source": source,
        "id": event_id,
        "dataschema": f"https://events-schemas.twilio.com/{schema or 'EventStreams.TestSink'}/1",
        "datacontenttype": "application/json",
        "time": iso(at),
        "data": data,
    }


def iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def now_text() -> str:
    return iso(datetime.now(UTC))
