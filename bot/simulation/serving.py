"""Serving: an aiohttp app on 127.0.0.1 for as long as a block runs (the demo's
simulator, Slack stand-in and sink; the benchmarks' stand-ins)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web


@asynccontextmanager
async def serving(app: web.Application, port: int = 0) -> AsyncIterator[str]:
    """`app` served on 127.0.0.1 (any free port by default); yields its origin."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
