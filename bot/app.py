"""App: builds the settings' world once and wires it into one aiohttp application.

Routes: `/slack/events` (HTTP mode) and `/healthz`. The Twilio client and, in Socket
Mode, the Slack connection are resources of the application (`cleanup_ctx`), opened on
startup and closed on shutdown.
"""

import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from bot import slack
from bot.knowledge import curated_directory, load_curated
from bot.service import Service
from bot.settings import Settings, problems_for_twilio
from bot.store import Store
from bot.twilio_api import TwilioApi

log = logging.getLogger(__name__)

SERVICE = web.AppKey("service", Service)
SETTINGS = web.AppKey("settings", Settings)


def build(settings: Settings) -> web.Application:
    store = Store(settings.database_path)
    service = Service(
        load_curated(curated_directory()),
        store,
        default_region=settings.default_region,
        lookups_per_hour=settings.lookups_per_user_per_hour,
    )
    bolt = slack.build_app(settings, service)

    app = web.Application()
    app[SERVICE] = service
    app[SETTINGS] = settings
    app.router.add_get("/healthz", healthz)
    if not problems_for_twilio(settings):
        app.cleanup_ctx.append(_twilio_client(service, settings))
    if settings.socket_mode:
        app.cleanup_ctx.append(slack.socket_mode_connection(bolt, settings))
    else:
        app.router.add_post("/slack/events", slack.events_handler(bolt))

    async def close_store(_: web.Application) -> None:
        store.close()

    app.on_cleanup.append(close_store)
    return app


def _twilio_client(
    service: Service, settings: Settings
) -> Callable[[web.Application], AsyncIterator[None]]:
    """One Twilio client (one aiohttp session) for the process, closed on shutdown."""

    async def client(_: web.Application) -> AsyncIterator[None]:
        service.twilio = TwilioApi(settings)
        yield
        await service.twilio.close()

    return client


async def healthz(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    return web.json_response(
        {
            "status": "ok",
            "mode": "socket" if request.app[SETTINGS].socket_mode else "http",
            "knowledge_entries": len(service.curated),
            "dictionary_entries": service.store.dictionary_size() if service.store else 0,
        }
    )
