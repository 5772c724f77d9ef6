"""A fake Slack: Web API methods, `response_url` targets and a Socket Mode websocket.

An aiohttp app on 127.0.0.1 (port 0) that records what it receives, for tests to assert
on what reached the wire. Driven by the real slack_sdk and slack-bolt clients.
"""

import asyncio
import json
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
    """The next `times` calls to `method` fail: an HTTP status, or Slack's ok=false `error`."""

    method: str
    status: int = 429
    retry_after: int = 0
    error: str = ""
    times: int = 1


@dataclass
class FakeSlack:
    received: list[Received] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    posted: int = 0
    acks: list[dict[str, Any]] = field(default_factory=list)
    envelopes: "asyncio.Queue[dict[str, Any]]" = field(default_factory=asyncio.Queue)
    base_url: str = ""
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

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 5) -> None:
        """Wait until `condition()` holds, re-checked on every request received."""

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
                if fault.error:
                    return web.json_response({"ok": False, "error": fault.error})
                headers = {"Retry-After": str(fault.retry_after)} if fault.status == 429 else {}
                return web.json_response(
                    {"ok": False, "error": "ratelimited" if fault.status == 429 else "fatal_error"},
                    status=fault.status,
                    headers=headers,
                )
        if method == "chat.postMessage":
            self.posted += 1
            ts = f"1700000000.{self.posted:06d}"
            return web.json_response({"ok": True, "channel": body.get("channel"), "ts": ts})
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
