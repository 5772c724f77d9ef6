"""Stream: the demo's Event Streams. The bot's own sink handler, served on 127.0.0.1;
set up through the simulator's Events API by `events setup`'s own code; and each
simulated minute's messages pushed to it as Twilio would push them: each one's `sent`,
then its receipt, in no particular order, a few of them twice, and one in 200 never (the
watcher's sweep finds those).
"""

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta

from aiohttp import web

from bot import settings
from bot.adapters.event_streams.sink import PATH, event_sink
from bot.adapters.twilio import TwilioApi
from bot.adapters.twilio.events import TwilioEvents
from bot.cli import events as events_cli
from bot.simulation.event_streams import status_event
from bot.simulation.scenario import SimMessage
from bot.simulation.serving import serving
from bot.simulation.simulator import Simulator
from bot.store import Store
from bot.watcher.health import Health

Handler = Callable[[web.Request], Awaitable[web.Response]]
RECEIPT_SECONDS = 20  # from a message's `sent` to its receipt
LOST_SHARE = 1 / 200  # events the stream never delivers
REPEATED_SHARE = 0.02  # events it delivers twice


class Sink:
    """Where the demo's pushes land: the bot's sink handler once `attach`ed (the store
    it writes to is opened after PUBLIC_URL, which names this origin, is known)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.origin = ""
        self.handler: Handler | None = None

    def attach(self, handler: Handler) -> None:
        self.handler = handler

    async def handle(self, request: web.Request) -> web.Response:
        if self.handler is None:
            return web.Response(status=503)
        return await self.handler(request)


@asynccontextmanager
async def sink_serving(clock: Callable[[], datetime]) -> AsyncIterator[Sink]:
    sink = Sink(clock)
    app = web.Application()
    app.router.add_post(PATH, sink.handle)
    async with serving(app) as origin:
        sink.origin = origin
        yield sink


class Streaming:
    def __init__(self, simulator: Simulator, sink: Sink) -> None:
        self.simulator, self.sink = simulator, sink
        self.rng = random.Random(18)  # its own: the story's traffic does not change
        self.pushed = self.lost = 0

    async def set_up(
        self, store: Store, twilio: TwilioApi, config: settings.Settings, out: Callable[[str], None]
    ) -> None:
        self.sink.attach(
            event_sink(
                store,
                config.public_url,
                config.twilio_auth_token,
                frozenset({config.twilio_account_sid}),
                clock=self.sink.clock,
            )
        )
        out("\nMessage statuses arrive through Twilio Event Streams.\n")
        out("$ python -m bot events setup")
        await events_cli.setup(TwilioEvents(twilio), store, config, 10.0, out)
        out("")

    async def push(self, messages: list[SimMessage]) -> None:
        """Each message's `sent` and its receipt, shuffled, some twice, a few lost."""
        made = []
        for m in messages:
            sent = replace(m, status="sent", error_code=None, error_message=None)
            made.append(status_event(sent, m.date_created))
            made.append(status_event(m, m.date_created + timedelta(seconds=RECEIPT_SECONDS)))
        kept = [e for e in made if self.rng.random() >= LOST_SHARE]
        self.lost += len(made) - len(kept)
        kept += [e for e in kept if self.rng.random() < REPEATED_SHARE]
        self.rng.shuffle(kept)
        self.pushed += len(kept)
        account = messages[0].account_sid if messages else ""
        await self.simulator.event_streams.publish(account, kept)

    def summary(self, health: Health) -> str:
        list_reads = self.simulator.count("/Messages.json")
        return (
            f"\nEvent Streams pushed {self.pushed} events (some twice; {self.lost} lost on "
            f"the way). The watcher read the Messages list in {list_reads} requests, "
            "at its first cycle and at each sweep; the sweeps found "
            f"{health.sweep_found_total} final statuses the stream had not sent."
        )
