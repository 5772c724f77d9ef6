"""`events`: Event Streams for the account, through Twilio's Events API.

`setup` makes a webhook sink at PUBLIC_URL/twilio/events (with EVENTS_USER's credentials
in its URL when set) and subscribes it to message status events; then it has Twilio
send the sink a test event and, once the serving bot has stored that event's id, hands
the id to the sink's Validate step. `status` shows what setup made and when the last
event arrived; `teardown` removes what setup made, and nothing else: its sinks and
subscriptions carry DESCRIPTION, and only ours point at PUBLIC_URL.
"""

import argparse
import asyncio
import time
from collections.abc import Callable
from urllib.parse import quote, urlsplit

from bot import settings
from bot.adapters.event_streams.sink import PATH, received_tests
from bot.adapters.twilio import TwilioApi
from bot.adapters.twilio.events import Sink, TwilioEvents
from bot.cli.output import settings_failure
from bot.domain.messages import utc
from bot.errors import TwilioRejected
from bot.store import Store
from bot.store.backends import opened_store

DESCRIPTION = "twilio-ops-bot"  # what setup names its sink and subscription
# The message status events the bot reads, each at the schema version Twilio's examples
# give (Messaging.MessageStatus); the fields read are in adapters.event_streams.cloudevents.
STATUS_TYPES = [
    (f"com.twilio.messaging.message.{status}", 1)
    for status in ("queued", "sent", "delivered", "undelivered", "failed")
]
TEST_WAIT_SECONDS = 30.0  # how long setup waits for the bot to receive the test event
TEST_POLL_SECONDS = 0.25


def run(args: argparse.Namespace, config: settings.Settings) -> int:
    missing = settings.problems_for_twilio(config)
    if not config.public_url:
        missing.append("PUBLIC_URL (the sink is PUBLIC_URL/twilio/events)")
    if args.action == "setup" and not config.twilio_auth_token and not missing:
        missing.append("TWILIO_AUTH_TOKEN (Twilio signs what it pushes with it)")
    if missing:
        return settings_failure([f"`events {args.action}` needs {name}" for name in missing])
    return asyncio.run(_run(args.action, config, getattr(args, "wait", TEST_WAIT_SECONDS)))


async def _run(action: str, config: settings.Settings, wait_seconds: float) -> int:
    store = await opened_store(config.database_url, config.database_path)
    twilio = TwilioApi(config)
    try:
        events = TwilioEvents(twilio)
        if action == "setup":
            return await setup(events, store, config, wait_seconds)
        if action == "status":
            return await _status(events, store, config)
        return await _teardown(events, config)
    finally:
        await twilio.close()
        await store.aclose()


def destination(config: settings.Settings) -> str:
    """The sink's URL: PUBLIC_URL's path plus /twilio/events, with EVENTS_USER's
    credentials as its user info when they are set (Twilio sends them as HTTP Basic)."""
    url = config.public_url + PATH
    if config.events_credentials is None:
        return url
    user, password = (quote(part, safe="") for part in config.events_credentials)
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{user}:{password}@{rest}"


def shown(url: str) -> str:
    """A sink's URL as printed: its password never."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username}:•••@{host}").geturl()


def _ours(sink: Sink, config: settings.Settings) -> bool:
    """A sink setup made for this bot: named so, pointing at this PUBLIC_URL."""
    without_user = urlsplit(sink.destination)._replace(
        netloc=urlsplit(sink.destination).netloc.rpartition("@")[2]
    )
    return sink.description == DESCRIPTION and without_user.geturl() == (config.public_url + PATH)


async def setup(
    events: TwilioEvents,
    store: Store,
    config: settings.Settings,
    wait_seconds: float,
    out: Callable[[str], None] = print,
) -> int:
    """Make (or find) the sink and its subscription, and prove them with a test event;
    0 when the bot received it, 1 when it did not within `wait_seconds`."""
    wanted = destination(config)
    held = [s for s in await events.sinks() if _ours(s, config)]
    sink = next((s for s in held if s.destination == wanted), None)
    subscriptions = await events.subscriptions()
    if sink is None:
        sink = await events.create_sink(DESCRIPTION, wanted)
        out(f"Made sink {sink.sid}: {shown(sink.destination)}")
    else:
        out(f"Sink {sink.sid} is there already: {shown(sink.destination)}")
    subscribed = [s for s in subscriptions if s.sink_sid == sink.sid]
    if subscribed:
        out(f"Subscription {subscribed[0].sid} is there already.")
    else:
        made = await events.subscribe(DESCRIPTION, sink.sid, STATUS_TYPES)
        out(f"Made subscription {made.sid}: {', '.join(t for t, _ in STATUS_TYPES)}")
    for stale in [s for s in held if s is not sink]:
        # Made by an earlier setup with other credentials (or a second copy): Twilio
        # cannot change a sink's URL, and one the bot now refuses would be retried for
        # hours. It goes, with its subscriptions, once the new one is in place.
        for subscription in [s for s in subscriptions if s.sink_sid == stale.sid]:
            await events.delete_subscription(subscription.sid)
        await events.delete_sink(stale.sid)
        out(f"Removed sink {stale.sid} ({shown(stale.destination)}): not this setup's URL")
    return await _prove(events, store, sink, config, wait_seconds, out)


async def _prove(
    events: TwilioEvents,
    store: Store,
    sink: Sink,
    config: settings.Settings,
    wait_seconds: float,
    out: Callable[[str], None],
) -> int:
    """Have Twilio send `sink` a test event and hand the id the bot received to Validate."""
    tried = set(await received_tests(store))
    await events.test_sink(sink.sid)
    out(f"Asked Twilio to send the sink a test event; waiting up to {wait_seconds:g} s.")
    deadline = time.monotonic() + wait_seconds
    refused: TwilioRejected | None = None
    # Twilio may deliver an earlier run's test event again meanwhile: Validate refuses
    # that id, and the wait goes on for this run's.
    while (test_id := await _test_received(store, tried, deadline)) is not None:
        tried.add(test_id)
        try:
            result = await events.validate_sink(sink.sid, test_id)
        except TwilioRejected as exc:
            refused = exc
            continue
        out(f"The bot received the test event ({test_id}); Twilio says the sink is {result}.")
        return 0 if result == "valid" else 1
    if refused is not None:
        out(
            f"The bot received test events, but Twilio refused to validate the sink with "
            f"them: {refused}. Run setup again; if it says so again, see `events status`."
        )
        return 1
    out(
        f"The bot did not receive the test event within {wait_seconds:g} s. Is it "
        f"serving at {config.public_url}, with this database, TWILIO_AUTH_TOKEN and "
        "PUBLIC_URL set as here? The sink and subscription stay; run setup again."
    )
    return 1


async def _test_received(store: Store, tried: set[str], deadline: float) -> str | None:
    """A test id the sink stored that is not in `tried`, by the monotonic `deadline`."""
    while True:
        for found in await received_tests(store):
            if found not in tried:
                return found
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(TEST_POLL_SECONDS)


async def _status(events: TwilioEvents, store: Store, config: settings.Settings) -> int:
    sinks = [s for s in await events.sinks() if _ours(s, config)]
    subscriptions = await events.subscriptions()
    if not sinks:
        print(f"No sink of this bot at {config.public_url or 'PUBLIC_URL'}{PATH}: run setup.")
    for sink in sinks:
        mine = [s.sid for s in subscriptions if s.sink_sid == sink.sid]
        print(
            f"Sink {sink.sid} ({sink.status}): {shown(sink.destination)}; "
            + (f"subscriptions {', '.join(mine)}" if mine else "no subscription")
        )
    last = await store.messages.last_report()
    print(f"Last message status event received: {utc(last) if last else 'none yet'}")
    if tests := await received_tests(store):
        print(f"Last test event received: {tests[-1]}")
    return 0


async def _teardown(events: TwilioEvents, config: settings.Settings) -> int:
    sinks = {s.sid: s for s in await events.sinks() if _ours(s, config)}
    for subscription in await events.subscriptions():
        if subscription.sink_sid in sinks:
            await events.delete_subscription(subscription.sid)
            print(f"Removed subscription {subscription.sid}")
    for sid in sinks:
        await events.delete_sink(sid)
        print(f"Removed sink {sid}")
    if not sinks:
        print("Nothing to remove: no sink of this bot.")
    return 0
