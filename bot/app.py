"""App: builds the settings' world once and wires it into one aiohttp application.

Routes: `/slack/events` (HTTP mode) and `/healthz`. In Socket Mode the Slack connection
is a resource of the application (`cleanup_ctx`), opened on startup and closed on shutdown.
"""

import logging

from aiohttp import web

from bot import slack
from bot.knowledge import curated_directory, load_curated
from bot.service import Service
from bot.settings import Settings
from bot.store import Store

log = logging.getLogger(__name__)

SERVICE = web.AppKey("service", Service)
SETTINGS = web.AppKey("settings", Settings)


def build(settings: Settings) -> web.Application:
    store = Store(settings.database_path)
    service = Service(load_curated(curated_directory()), store)
    bolt = slack.build_app(settings, service)

    app = web.Application()
    app[SERVICE] = service
    app[SETTINGS] = settings
    app.router.add_get("/healthz", healthz)
    if settings.socket_mode:
        app.cleanup_ctx.append(slack.socket_mode_connection(bolt, settings))
    else:
        app.router.add_post("/slack/events", slack.events_handler(bolt))

    async def close_store(_: web.Application) -> None:
        store.close()

    app.on_cleanup.append(close_store)
    return app


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
