"""The Events API in the simulator: v1 Sinks (with Test, which pushes a test event to
the sink, and Validate, which takes its id) and Subscriptions, each account's own, in the
shapes twilio-python reads. What a sink is pushed is `event_streams`' part."""

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from bot.simulation import wire
from bot.simulation.event_streams import TEST_TYPE, EventStreams, cloud_event, now_text


class EventsApi:
    def __init__(self, streams: EventStreams) -> None:
        self.streams = streams

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/Sinks", self._create_sink)
        app.router.add_get("/v1/Sinks", self._list("sinks"))
        app.router.add_get("/v1/Sinks/{sid}", self._fetch("sinks"))
        app.router.add_delete("/v1/Sinks/{sid}", self._delete("sinks"))
        app.router.add_post("/v1/Sinks/{sid}/Test", self._test_sink)
        app.router.add_post("/v1/Sinks/{sid}/Validate", self._validate_sink)
        app.router.add_post("/v1/Subscriptions", self._create_subscription)
        app.router.add_get("/v1/Subscriptions", self._list("subscriptions"))
        app.router.add_get("/v1/Subscriptions/{sid}", self._fetch("subscriptions"))
        app.router.add_delete("/v1/Subscriptions/{sid}", self._delete("subscriptions"))
        app.on_cleanup.append(self.streams.close)

    def _account_of(self, request: web.Request) -> str:
        return wire.account_of(self.streams.scenario, request)

    async def _create_sink(self, request: web.Request) -> web.Response:
        form = await request.post()
        try:
            configuration = json.loads(str(form.get("SinkConfiguration", "")))
        except ValueError:
            return wire.error(400, 20001, "SinkConfiguration must be JSON")
        kind = str(form.get("SinkType", ""))
        if kind not in ("webhook", "kinesis", "segment") or not form.get("Description"):
            return wire.error(400, 20001, "Description and a SinkType are required")
        if kind == "webhook" and not str(configuration.get("destination", "")).startswith("http"):
            return wire.error(400, 20001, "A webhook sink needs a destination URL")
        sid = self.streams.new_sid("DG")
        self.streams.sinks[sid] = {
            "sid": sid,
            "account_sid": self._account_of(request),
            "description": str(form["Description"]),
            "sink_configuration": configuration,
            "sink_type": kind,
            "status": "initialized",
            "date_created": now_text(),
            "date_updated": now_text(),
            "url": f"https://events.twilio.com/v1/Sinks/{sid}",
            "links": {},
        }
        return web.json_response(self._shown("sinks", self.streams.sinks[sid]), status=201)

    async def _create_subscription(self, request: web.Request) -> web.Response:
        form = await request.post()
        sink_sid = str(form.get("SinkSid", ""))
        try:
            types = [json.loads(str(t)) for t in form.getall("Types", [])]
        except ValueError:
            return wire.error(400, 20001, "Types must be JSON objects")
        if sink_sid not in self.streams.sinks or not types:
            return wire.error(400, 20001, "A SinkSid and Types are required")
        sid = self.streams.new_sid("DF")
        self.streams.subscriptions[sid] = {
            "sid": sid,
            "account_sid": self._account_of(request),
            "description": str(form.get("Description", "")),
            "sink_sid": sink_sid,
            "types": types,
            "date_created": now_text(),
            "date_updated": now_text(),
            "url": f"https://events.twilio.com/v1/Subscriptions/{sid}",
            "links": {},
        }
        return web.json_response(
            self._shown("subscriptions", self.streams.subscriptions[sid]), status=201
        )

    def _list(self, key: str) -> Any:
        async def handle(request: web.Request) -> web.Response:
            account = self._account_of(request)
            found = [
                self._shown(key, r)
                for r in getattr(self.streams, key).values()
                if r["account_sid"] == account
            ]
            return wire.v1_page(f"https://events.twilio.com/v1/{key.title()}", key, found)

        return handle

    def _fetch(self, key: str) -> Any:
        async def handle(request: web.Request) -> web.Response:
            found = getattr(self.streams, key).get(request.match_info["sid"])
            if found is None or found["account_sid"] != self._account_of(request):
                return wire.error(404, 20404, "The requested resource was not found")
            return web.json_response(self._shown(key, found))

        return handle

    def _delete(self, key: str) -> Any:
        async def handle(request: web.Request) -> web.Response:
            table = getattr(self.streams, key)
            found = table.get(request.match_info["sid"])
            if found is None or found["account_sid"] != self._account_of(request):
                return wire.error(404, 20404, "The requested resource was not found")
            del table[found["sid"]]
            if key == "sinks":  # Twilio refuses while subscribed; the simulator drops them
                for sid in [
                    s
                    for s, v in self.streams.subscriptions.items()
                    if v["sink_sid"] == found["sid"]
                ]:
                    del self.streams.subscriptions[sid]
            return web.Response(status=204)

        return handle

    async def _test_sink(self, request: web.Request) -> web.Response:
        sink = self.streams.sinks.get(request.match_info["sid"])
        if sink is None or sink["account_sid"] != self._account_of(request):
            return wire.error(404, 20404, "The requested resource was not found")
        test_id = self.streams.new_sid("TE")
        sink["test_id"] = test_id
        event = cloud_event(TEST_TYPE, "Sink", {"test_id": test_id}, datetime.now(UTC), test_id)
        earlier = sink.setdefault("tests", [])
        self.streams.send_later(sink, [event, *(earlier if self.streams.redeliver_tests else [])])
        earlier.append(event)
        return web.json_response({"result": "submitted"}, status=201)

    async def _validate_sink(self, request: web.Request) -> web.Response:
        sink = self.streams.sinks.get(request.match_info["sid"])
        if sink is None or sink["account_sid"] != self._account_of(request):
            return wire.error(404, 20404, "The requested resource was not found")
        test_id = parse_qs((await request.read()).decode()).get("TestId", [""])[0]
        if not test_id or test_id != sink.get("test_id"):
            return wire.error(400, 20001, "TestId does not match the sink's test event")
        sink["status"] = "active"
        return web.json_response({"result": "valid"}, status=201)

    @staticmethod
    def _shown(key: str, record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in record.items() if k not in ("test_id", "tests")}
