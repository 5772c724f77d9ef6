"""What each terminal command does, once the command line is read: answer one command,
import the dictionary, watch (`poll`), serve."""

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot import settings
from bot.adapters import sync
from bot.adapters.twilio import TwilioApi
from bot.answers import commands
from bot.answers.commands import Notice, Usage
from bot.answers.curated import curated_directory, load_curated
from bot.answers.service import Service
from bot.cli.output import PROG, settings_failure, terminal_help_lines
from bot.domain import spikes
from bot.domain.alerting import Event
from bot.render.terminal import render_text
from bot.store.backends import described, opened_store
from bot.watcher.config import WatcherConfig
from bot.watcher.cycle import Watcher


def answer(command: str, arguments: str, config: settings.Settings) -> int:
    """Answer one command in the terminal. Without Twilio settings, the store is only read,
    and only if it exists: explaining a code leaves no file behind."""
    result = asyncio.run(_answer(command, arguments, config))
    if isinstance(result, Notice) and result.settings:
        # A settings problem, like any other: on stderr, exit 2 (README, Terminal).
        return settings_failure([result.text])
    print(render_text(result, PROG, also=terminal_help_lines()))
    if isinstance(result, Usage) and result.problem:
        return 2
    return 1 if isinstance(result, Notice) else 0


async def _answer(command: str, arguments: str, config: settings.Settings) -> commands.Answer:
    with_twilio = not settings.problems_for_twilio(config)
    keep_store = with_twilio or config.database_url or Path(config.database_path).exists()
    store = None
    if keep_store:
        store = await opened_store(config.database_url, config.database_path)
    twilio = TwilioApi(config) if with_twilio else None
    try:
        curated = load_curated(curated_directory(), config.policy)
        # Only `status` reports on the watcher (READS leaves its settings out for the rest).
        watching = command == "status" and not settings.problems_for_watching(config)
        watcher = None
        if store is not None and twilio is not None and watching:
            # No Slack client: status reads the store and Twilio, and links to no alert.
            watcher = Watcher(WatcherConfig.from_settings(config), store, twilio, None, curated)
        service = Service(
            curated,
            store,
            config.policy,
            twilio,
            default_region=config.default_region,
            lookups_per_hour=config.lookups_per_user_per_hour,
            alert_window=config.thresholds.window,
            watcher=watcher.actions if watcher else None,
            subaccounts=config.subaccounts,
        )
        return await commands.answer(f"{command} {arguments}", service)
    finally:
        if twilio is not None:
            await twilio.close()
        if store is not None:
            await store.aclose()


def knowledge(args: argparse.Namespace, config: settings.Settings) -> int:
    raw = (
        asyncio.run(sync.download(args.url)) if args.action == "sync" else sync.read_file(args.file)
    )
    read, written, skipped = asyncio.run(_import(raw, config))
    where = described(config.database_url, config.database_path)
    print(
        f"Read {read} error codes ({skipped} unreadable items skipped); stored {written} "
        f"(entries already held in a newer version are kept) in {where}."
    )
    return 0


async def _import(raw: bytes, config: settings.Settings) -> tuple[int, int, int]:
    store = await opened_store(config.database_url, config.database_path)
    try:
        today = datetime.now(UTC).date().isoformat()
        return await sync.import_bytes(raw, store, today)
    finally:
        await store.aclose()


def poll(once: bool, config: settings.Settings) -> int:
    """Watch from the terminal or cron. Exit 0 when the cycle ran and Slack has everything,
    1 when a fault stopped it or posts wait for the next run."""
    if missing := settings.problems_for_watching(config):
        return settings_failure([f"missing {name}" for name in missing])
    return asyncio.run(_poll(once, config))


async def _poll(once: bool, config: settings.Settings) -> int:
    from bot.adapters.slack.poster import Poster, web_client

    store = await opened_store(config.database_url, config.database_path)
    twilio = TwilioApi(config)
    poster = Poster(web_client(config))
    try:
        curated = load_curated(curated_directory(), config.policy)
        watcher = Watcher(WatcherConfig.from_settings(config), store, twilio, poster, curated)
        if not once:
            await watcher.run_forever()
        try:
            result = await watcher.cycle()
        finally:
            await store.watcher.release_lease(watcher.owner)
    finally:
        await twilio.close()
        await store.aclose()
    print(f"Read {result.ingested} messages.")
    for reading, step in zip(result.readings, result.steps, strict=True):
        state = step.event or "no incident"
        if step.incident is not None and step.event == Event.UPDATED:
            state = f"{step.incident.severity} incident open"
        if reading.code == spikes.CREDENTIALS_CODE:
            print(f"Twilio took the credentials again; the incident is {state}.")
            continue
        print(
            f"{reading.code}: {reading.failed} of {reading.final} final messages "
            f"({reading.rate:.1%}) in the window; {state}."
        )
    print(f"Slack: {result.delivered} sent, {result.pending} waiting.")
    if result.pending:
        print(f"Waiting because {watcher.health.last_error}", file=sys.stderr)
        if watcher.health.slack_problem:
            print(f"To fix: {watcher.health.slack_problem}", file=sys.stderr)
    return 1 if result.pending else 0


def serve(config: settings.Settings) -> int:
    if missing := settings.problems_for_serving(config):
        return settings_failure([f"missing {name}" for name in missing])
    from aiohttp import web

    from bot import app

    try:
        web.run_app(app.build(config), host=config.host, port=config.port, print=None)
    except OSError as exc:
        print(
            f"error: cannot listen on {config.host}:{config.port}: {exc.strerror}", file=sys.stderr
        )
        return 1
    return 0
