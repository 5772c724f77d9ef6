"""App: builds the settings' world once and wires it into one aiohttp application.

Routes: `/slack/events` (HTTP mode) and `/healthz`. The Twilio client, the watcher (with
SLACK_ALERT_CHANNEL set) and, in Socket Mode, the Slack connection are resources of the
application (`cleanup_ctx`), started on startup and stopped on shutdown.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from datetime import UTC, datetime

from aiohttp import web

from bot.adapters import slack, webhook
from bot.adapters.event_streams import sink
from bot.adapters.slack.poster import Poster, web_client
from bot.adapters.twilio import TwilioApi
from bot.answers import phone_numbers
from bot.answers.curated import curated_directory, load_curated
from bot.answers.service import Service
from bot.errors import StoreError
from bot.settings import Settings, problems_for_twilio, problems_for_watching
from bot.store import Store
from bot.store.backends import described, store_for
from bot.tuning import DEFAULT_TUNING, Tuning
from bot.watcher import detect
from bot.watcher.config import WatcherConfig
from bot.watcher.cycle import Watcher
from bot.watcher.health import PUBLIC_FIELDS

log = logging.getLogger(__name__)

SERVICE = web.AppKey("service", Service)
SETTINGS = web.AppKey("settings", Settings)
WATCHER = web.AppKey("watcher", Watcher)


def build(
    settings: Settings,
    tuning: Tuning = DEFAULT_TUNING,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> web.Application:
    """The bot's application, each part built whole, in the order they need each other:
    the store and Twilio, the watcher (while watching), the service that answers, Bolt.
    `tuning` and `clock` are for tests and benchmarks."""
    store = store_for(settings.database_url, settings.database_path)
    curated = load_curated(curated_directory(), settings.policy)
    twilio = None
    if not problems_for_twilio(settings):
        twilio = TwilioApi(settings, backoff_seconds=tuning.twilio_backoff_seconds)
    watching = twilio is not None and not problems_for_watching(settings)
    watcher = None
    if twilio is not None and watching:
        watcher = Watcher(
            WatcherConfig.from_settings(settings, tuning),
            store,
            twilio,
            Poster(web_client(settings, tuning.slack_timeout_seconds)),
            curated,
            clock,
        )
    service = Service(
        curated,
        store,
        settings.policy,
        twilio,
        clock,
        default_region=settings.default_region,
        alert_window=settings.thresholds.window,
        lookups_per_hour=settings.lookups_per_user_per_hour,
        watcher=watcher.actions if watcher else None,
        subaccounts=settings.subaccounts,
    )
    bolt = slack.build_app(settings, service, tuning)

    # Nothing the bot is sent is near this size: a larger body is refused (413) before it
    # is read whole, chunked or not.
    app = web.Application(client_max_size=slack.MAX_BODY_BYTES)
    app[SERVICE] = service
    app[SETTINGS] = settings
    app.router.add_get("/healthz", healthz)
    app.cleanup_ctx.append(_opened(store))  # first: everything after it uses the store
    if watcher is not None:
        app[WATCHER] = watcher
        app.cleanup_ctx.append(_watching(watcher))
    else:
        # The watcher prunes each cycle; without one, what `why` and `lookup` stored (numbers
        # among it) must still follow RETENTION_DAYS.
        app.cleanup_ctx.append(_retention(store, settings, tuning, clock))
    if watching and settings.public_url and settings.twilio_auth_token:
        # Twilio signs webhooks with the Auth Token, even for accounts that call with API keys.
        # Only while watching: the watcher's retention is what keeps the table bounded.
        app.router.add_post(
            webhook.PATH,
            webhook.status_callback(store, settings.public_url, settings.twilio_auth_token, clock),
        )
        app.router.add_post(
            sink.PATH,
            sink.event_sink(
                store,
                settings.public_url,
                settings.twilio_auth_token,
                frozenset({settings.twilio_account_sid}),
                settings.events_credentials,
                watcher.nudge if watcher is not None else lambda: None,
                frozenset(detect.watched_codes(settings.alert_codes)),
                clock,
            ),
        )
    if settings.socket_mode:
        app.cleanup_ctx.append(slack.socket_mode_connection(bolt, settings))
    else:
        app.router.add_post(
            "/slack/events", slack.events_handler(bolt, settings.slack_signing_secret)
        )

    async def start(_: web.Application) -> None:
        log.info("%s", starting_line(settings, watching))
        # Before the port is bound (aiohttp binds after startup), in a thread: about a third
        # of a second at start, and some 100 MB, instead of half a second in the first
        # lookup (issue 14, item 22).
        await asyncio.to_thread(phone_numbers.preload)

    app.on_startup.append(start)

    async def close(_: web.Application) -> None:
        if twilio is not None:
            await twilio.close()

    app.on_cleanup.append(close)
    return app


def starting_line(settings: Settings, watching: bool) -> str:
    """One line for the log as the bot starts: how it is reached, whether it watches, and
    where its state is."""
    if settings.socket_mode:
        mode = f"Slack over Socket Mode; /healthz on {settings.host}:{settings.port}"
    else:
        mode = f"Slack over HTTP on {settings.host}:{settings.port} (/slack/events)"
    if watching:
        watch = (
            f"watching the Twilio account every {settings.poll_interval_seconds:g} s, "
            f"alerts to {settings.slack_alert_channel}"
        )
    else:
        watch = "not watching (SLACK_ALERT_CHANNEL and the Twilio settings turn it on)"
    where = described(settings.database_url, settings.database_path)
    return f"serving {mode}; {watch}; database {where}"


RETENTION_EVERY_SECONDS = 3600
HEALTHZ_DATABASE_SECONDS = 0.5  # /healthz answers within a second, the database or not


def _opened(store: Store) -> Callable[[web.Application], AsyncIterator[None]]:
    """The store, readied (and its schema brought up to date) before anything serves,
    closed after everything that uses it has stopped."""

    async def opened(_: web.Application) -> AsyncIterator[None]:
        try:
            if ran := await store.open():
                log.info("database brought up to date: %s", ", ".join(ran))
        except StoreError as exc:
            # Serve all the same: what needs no database still answers, the rest says it
            # is unavailable, and the store catches up once the server answers.
            log.error("%s Serving without it until it answers.", exc)
        try:
            yield
        finally:
            await store.aclose()

    return opened


def _retention(
    store: Store, settings: Settings, tuning: Tuning, clock: Callable[[], datetime]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """Retention for a bot that does not watch: a prune as it starts and every hour, in
    the background (a backlog after days down must not hold the port closed)."""

    async def prune() -> None:
        try:
            # A batch at a time, so what commands write never waits long behind it.
            before = clock() - settings.retention
            while await store.messages.prune(before, tuning.prune_batch) == tuning.prune_batch:
                pass
        except StoreError as exc:
            log.error("retention could not prune: %s", exc)

    async def prune_forever() -> None:
        while True:
            await prune()
            await asyncio.sleep(RETENTION_EVERY_SECONDS)

    async def retention(_: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(prune_forever())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return retention


def _watching(watcher: Watcher) -> Callable[[web.Application], AsyncIterator[None]]:
    """The watcher, a background task that lives as long as the web app."""

    async def watching(_: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(watcher.run_forever())
        yield
        watcher.stopping = True
        # Python 3.11's wait_for can swallow a cancel that lands as its call completes
        # (fixed in 3.12), so cancel until the task has really ended.
        while not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=1)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return watching


async def healthz(request: web.Request) -> web.Response:
    """200 while all is well; 503 when the watcher has not finished a cycle for three
    intervals, so a platform's health check can restart a stuck process. Slack refusing
    the setup (a wrong channel, a revoked token) is 200 with "needs attention": a restart
    would not fix it, a person must. Posts waiting on a Slack outage (5xx, timeouts,
    answers Slack did not write) are 200 with "slack unavailable"."""
    service = request.app[SERVICE]
    settings = request.app[SETTINGS]
    body: dict[str, object] = {
        "status": "ok",
        "mode": "socket" if settings.socket_mode else "http",
        "knowledge_entries": len(service.curated),
    }
    try:
        assert service.store is not None  # build() always gives the service its store
        size = service.store.dictionary.size()
        body["dictionary_entries"] = await asyncio.wait_for(size, HEALTHZ_DATABASE_SECONDS)
    except TimeoutError:
        # Slow, not failing (a disk under load): a restart would not help, so still 200.
        body["dictionary_entries"] = None
        body["database"] = "busy"
    except StoreError:  # a damaged page, an I/O error: what and what to do are in the log
        body["status"] = "database failing"
        return web.json_response(body, status=503)
    running = request.app.get(WATCHER)
    if running is not None:
        health = running.health
        # Status and counts only: what went wrong, with the channel or account it names,
        # is for `/twilio status`, which only a signed request reaches.
        shown = asdict(health)
        watcher: dict[str, object] = {name: shown[name] for name in PUBLIC_FIELDS}
        watcher["last_cycle_failed"] = health.last_error is not None
        watcher["slack_needs_fix"] = health.slack_problem is not None
        watcher["database_failing"] = health.database_problem is not None
        received = health.events_received
        watcher["events_age_seconds"] = (
            None if received is None else round(running.clock().timestamp() - received, 1)
        )
        body["poller"] = watcher  # "poller": the key health checks already read
        if health.database_problem:
            body["status"] = "database failing"  # what and what to do: /twilio status, the log
            return web.json_response(body, status=503)
        if health.stalled(
            running.clock().timestamp(),
            settings.poll_interval_seconds,
            running.config.tuning.first_cycle_grace_seconds,
        ):
            body["status"] = "poller stalled"
            return web.json_response(body, status=503)
        if health.slack_problem:
            body["status"] = "needs attention"
        elif health.slack_outage:
            body["status"] = "slack unavailable"
    return web.json_response(body)
