"""A fake Slack: Web API methods, `response_url` targets and a Socket Mode websocket.

An aiohttp app on 127.0.0.1 (port 0) that records what it receives, for tests to assert
on what reached the wire. Driven by the real slack_sdk and slack-bolt clients.
"""

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web


@dataclass
class Received:
    path: str
    body: dict[str, Any]


@dataclass
class Fault:
    """The next `times` calls to `method` fail: an HTTP status, Slack's ok=false `error`,
    or an answer cut short to `raw`. Method "response" is any response_url, where status 0
    drops the connection once the request is read, and with `retry_after` it is a hang of
    that many seconds instead."""

    method: str
    status: int = 429
    retry_after: int = 0
    error: str = ""
    times: int = 1
    raw: str = ""
    raw_status: int = 200  # with `raw`: the answer's status and type, as a proxy sends it
    content_type: str = "application/json"


# What `fail_at_random` does to a call, in turn: each fails before Slack takes the post.
RANDOM_FAULTS = ("429", "500", "503", "ratelimited", "channel_not_found", "not_in_channel", "hang")


@dataclass
class Shown:
    """A message as the channel shows it now."""

    channel: str
    text: str
    blocks: list[Any]
    thread_ts: str | None
    edits: int = 0


@dataclass
class FakeSlack:
    received: list[Received] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    shown: dict[str, Shown] = field(default_factory=dict)  # ts -> the message as it stands
    faulted: Counter[str] = field(default_factory=Counter)
    posted: int = 0
    answered: int = 0  # response_url posts Slack took
    latency_seconds: float = 0  # before a chat.* call takes effect
    abandoned: int = 0  # chat.* calls whose sender was gone by then: nothing was posted
    taken_at: dict[str, float] = field(default_factory=dict)  # ts -> time.monotonic()
    acks: list[dict[str, Any]] = field(default_factory=list)
    envelopes: "asyncio.Queue[dict[str, Any]]" = field(default_factory=asyncio.Queue)
    base_url: str = ""
    # (share, rng, methods, hang_seconds) of `fail_at_random`
    _random: tuple[float, random.Random, tuple[str, ...], float] = (0, random.Random(), (), 0)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # slack_sdk GETs a few, e.g. permalinks
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_get("/socket", self._socket)
        return app

    def response_url(self, name: str) -> str:
        return f"{self.base_url}/response/{name}"

    def calls(self, path: str) -> list[dict[str, Any]]:
        return [r.body for r in self.received if r.path == path]

    def inject(self, fault: Fault) -> None:
        self.faults.append(fault)

    def fail_at_random(
        self, share: float, seed: int, methods: tuple[str, ...], hang_seconds: float = 0.5
    ) -> None:
        """From now on, fail `share` of the calls to `methods`, taking RANDOM_FAULTS in
        turn; `share` 0 stops. Seeded, so a run can be repeated."""
        self._random = (share, random.Random(seed), methods, hang_seconds)

    def thread(self, ts: str) -> list[Shown]:
        return [m for m in self.shown.values() if m.thread_ts == ts]

    async def _random_fault(self, method: str) -> web.Response | None:
        share, rng, methods, hang_seconds = self._random
        if method not in methods or rng.random() >= share:
            return None
        kind = RANDOM_FAULTS[sum(self.faulted.values()) % len(RANDOM_FAULTS)]
        self.faulted[kind] += 1
        if kind == "hang":  # longer than the client waits; Slack takes nothing
            await asyncio.sleep(hang_seconds)
            return web.json_response({"ok": False, "error": "request_timeout"}, status=504)
        if kind.isdigit():
            headers = {"Retry-After": "0"} if kind == "429" else {}
            error = "ratelimited" if kind == "429" else "fatal_error"
            return web.json_response(
                {"ok": False, "error": error}, status=int(kind), headers=headers
            )
        return web.json_response({"ok": False, "error": kind})

    async def wait_for(self, condition: Callable[[], object], timeout: float = 5) -> None:
        """Wait until `condition()` holds (is truthy: a non-empty list of calls will do),
        re-checked on every request received."""

        async def until() -> None:
            async with self._changed:
                await self._changed.wait_for(condition)

        await asyncio.wait_for(until(), timeout)

    async def _record(self, path: str, body: dict[str, Any]) -> None:
        async with self._changed:
            self.received.append(Received(path, body))
            self._changed.notify_all()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body: dict[str, Any]
        if request.method == "GET":
            body = dict(request.query)
        elif request.content_type == "application/json":
            body = await request.json()
        else:
            body = dict(await request.post())
        await self._record(method, body)
        for fault in self.faults:
            if fault.method == method and fault.times > 0:
                fault.times -= 1
                if fault.raw:
                    return web.Response(
                        text=fault.raw, status=fault.raw_status, content_type=fault.content_type
                    )
                if fault.error:
                    return web.json_response({"ok": False, "error": fault.error})
                headers = {"Retry-After": str(fault.retry_after)} if fault.status == 429 else {}
                return web.json_response(
                    {"ok": False, "error": "ratelimited" if fault.status == 429 else "fatal_error"},
                    status=fault.status,
                    headers=headers,
                )
        if (faulted := await self._random_fault(method)) is not None:
            return faulted
        if self.latency_seconds and method.startswith("chat."):
            try:
                await asyncio.sleep(self.latency_seconds)
            except asyncio.CancelledError:  # the test server cancels it when the bot is gone
                self.abandoned += 1
                raise
            if request.transport is None or request.transport.is_closing():
                self.abandoned += 1  # the bot died waiting: like Slack failing before it took it
                return web.Response(status=499)
        if method == "chat.postMessage":
            self.posted += 1
            ts = f"1700000000.{self.posted:06d}"
            self.shown[ts] = Shown(
                body["channel"], body.get("text", ""), _blocks(body), body.get("thread_ts")
            )
            self.taken_at[ts] = time.monotonic()
            return web.json_response({"ok": True, "channel": body.get("channel"), "ts": ts})
        if method == "chat.update":
            shown = self.shown.get(body.get("ts", ""))
            if shown is None or shown.channel != body.get("channel"):
                return web.json_response({"ok": False, "error": "message_not_found"})
            shown.text, shown.blocks, shown.edits = (
                body.get("text", ""),
                _blocks(body),
                shown.edits + 1,
            )
            return web.json_response({"ok": True, "channel": shown.channel, "ts": body["ts"]})
        if method == "chat.getPermalink":
            channel, ts = body.get("channel", ""), body.get("message_ts", "")
            link = f"https://example.slack.com/archives/{channel}/p{ts.replace('.', '')}"
            return web.json_response({"ok": True, "channel": channel, "permalink": link})
        if method == "auth.test":
            return web.json_response(
                {
                    "ok": True,
                    "team_id": "T0001",
                    "user_id": "UBOT",
                    "bot_id": "B0001",
                    "url": "https://example.slack.com/",
                }
            )
        if method == "apps.connections.open":
            ws = self.base_url.replace("http://", "ws://") + "/socket"
            return web.json_response({"ok": True, "url": ws})
        return web.json_response(
            {"ok": True, "channel": body.get("channel"), "ts": "1700000000.000100"}
        )

    async def _response_url(self, request: web.Request) -> web.Response:
        await self._record("response/" + request.match_info["name"], await request.json())
        for fault in self.faults:
            if fault.method == "response" and fault.times > 0:
                fault.times -= 1
                if fault.status == 0 and fault.retry_after:  # longer than the bot waits
                    await asyncio.sleep(fault.retry_after)
                    return web.Response(status=504)
                if fault.status == 0:  # cut off after reading it all: shown or not, who knows
                    assert request.transport is not None
                    request.transport.close()
                    return web.Response(status=499)
                headers = {"Retry-After": str(fault.retry_after)} if fault.status == 429 else {}
                return web.Response(text="fatal_error", status=fault.status, headers=headers)
        self.answered += 1
        return web.Response(text="ok")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1})
        sender = asyncio.create_task(self._send_envelopes(ws))
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    ack = json.loads(message.data)
                    async with self._changed:
                        self.acks.append(ack)
                        self._changed.notify_all()
        finally:
            sender.cancel()
        return ws

    async def _send_envelopes(self, ws: web.WebSocketResponse) -> None:
        while True:
            await ws.send_json(await self.envelopes.get())


def _blocks(body: dict[str, Any]) -> list[Any]:
    blocks = body.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)
