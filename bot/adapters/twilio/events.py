"""Events API: the account's Event Streams sinks and subscriptions, made, read and
removed through twilio-python's `events.v1` (on the TwilioApi's client, so its timeouts,
retries and host rewriting apply). Results as plain values; failures as ours."""

import json
from dataclasses import dataclass, field

from bot.adapters.twilio.api import TwilioApi
from bot.adapters.twilio.calls import call

LIST_LIMIT = 200  # Twilio allows 100 sinks an account: a list never needs more


@dataclass(frozen=True)
class Sink:
    sid: str
    description: str
    # As Twilio holds it, user info included: never printed as it is (nor in a repr).
    destination: str = field(repr=False)
    status: str = "unknown"


@dataclass(frozen=True)
class Subscription:
    sid: str
    description: str
    sink_sid: str


class TwilioEvents:
    def __init__(self, twilio: TwilioApi) -> None:
        self.events = twilio.client.events.v1

    async def sinks(self) -> list[Sink]:
        found = await call(self.events.sinks.list_async(limit=LIST_LIMIT), "no sinks")
        return [_sink(s) for s in found]

    async def create_sink(self, description: str, destination: str) -> Sink:
        configuration = {"destination": destination, "method": "POST", "batch_events": True}
        made = await call(
            self.events.sinks.create_async(
                description=description, sink_configuration=configuration, sink_type="webhook"
            ),
            "Event Streams is not available to this account",
        )
        return _sink(made)

    async def test_sink(self, sid: str) -> None:
        """Twilio sends the sink a test event, whose id `validate_sink` takes."""
        await call(self.events.sinks(sid).sink_test.create_async(), f"no sink {sid}")

    async def validate_sink(self, sid: str, test_id: str) -> str:
        done = await call(
            self.events.sinks(sid).sink_validate.create_async(test_id=test_id), f"no sink {sid}"
        )
        return str(done.result or "")

    async def delete_sink(self, sid: str) -> None:
        await call(self.events.sinks(sid).delete_async(), f"no sink {sid}")

    async def subscriptions(self) -> list[Subscription]:
        found = await call(
            self.events.subscriptions.list_async(limit=LIST_LIMIT), "no subscriptions"
        )
        return [Subscription(s.sid or "", s.description or "", s.sink_sid or "") for s in found]

    async def subscribe(
        self, description: str, sink_sid: str, types: list[tuple[str, int]]
    ) -> Subscription:
        """A subscription of the sink to each (event type, schema version)."""
        made = await call(
            self.events.subscriptions.create_async(
                description=description,
                sink_sid=sink_sid,
                types=[{"type": kind, "schema_version": version} for kind, version in types],
            ),
            f"no sink {sink_sid}",
        )
        return Subscription(made.sid or "", made.description or "", made.sink_sid or "")

    async def delete_subscription(self, sid: str) -> None:
        await call(self.events.subscriptions(sid).delete_async(), f"no subscription {sid}")


def _sink(instance: object) -> Sink:
    configuration = getattr(instance, "sink_configuration", None) or {}
    if isinstance(configuration, str):  # some answers hold it as JSON text
        configuration = json.loads(configuration)
    return Sink(
        sid=getattr(instance, "sid", None) or "",
        description=getattr(instance, "description", None) or "",
        destination=str(configuration.get("destination", "")),
        status=str(getattr(instance, "status", None) or "unknown"),
    )
