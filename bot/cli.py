"""CLI: `python -m bot` serves; `poll` watches; `demo` plays the watcher on the simulator;
`why`, `lookup`, `status`, `help` and `knowledge …` answer in the terminal.

The only place that reads the environment and the clock for the bot as a whole; exit
codes: 0 done, 1 failed, 2 usage or settings problem.
"""

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot import settings
from bot.adapters import sync
from bot.adapters.twilio import TwilioApi
from bot.answers import commands
from bot.answers.commands import Notice, Usage
from bot.answers.curated import curated_directory, load_curated
from bot.answers.dictionary import DICTIONARY_URL
from bot.answers.service import Service
from bot.domain import spikes
from bot.domain.privacy import Redactor
from bot.errors import BotError, SettingsError
from bot.render.terminal import render_text
from bot.store.sqlite import SqliteStore
from bot.watcher.config import WatcherConfig
from bot.watcher.cycle import Watcher

log = logging.getLogger(__name__)

PROG = "python -m bot"


# The commands only the terminal has (the others are commands.SUBCOMMANDS): the one
# table for the parser and for `help`. (name, syntax, help)
TERMINAL_ONLY = (
    ("serve", "serve", "serve Slack (the default); watches too, with SLACK_ALERT_CHANNEL"),
    ("poll", "poll [--once]", "watch the account and post alerts, without serving Slack"),
    ("demo", "demo [--suspend]", "watch a simulated account: no credentials, no network"),
    (
        "simulate",
        "simulate [--port N] [--spike] [--suspend]",
        "serve the built-in Twilio simulator, and print the settings that point the bot at it",
    ),
    (
        "knowledge",
        "knowledge sync [--url URL] | import FILE",
        "load Twilio's full error dictionary into the database",
    ),
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="A Slack bot for Twilio SMS operations. With no command, it serves Slack.",
        epilog="settings (environment variables):\n" + settings.render_table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    made = {name: sub.add_parser(name, help=text) for name, _, text in TERMINAL_ONLY}
    made["demo"].add_argument("--suspend", action="store_true", help="the account is suspended too")
    made["poll"].add_argument(
        "--once", action="store_true", help="run exactly one cycle, then exit"
    )
    simulate = made["simulate"]
    simulate.add_argument(
        "--port", type=int, default=0, help="port to serve on (default: any free)"
    )
    simulate.add_argument("--spike", action="store_true", help="30003 fails 15 % of messages")
    simulate.add_argument("--suspend", action="store_true", help="the account is suspended")
    for command in commands.SUBCOMMANDS:
        one = sub.add_parser(command.name, help=command.help)
        one.add_argument("args", nargs=argparse.REMAINDER, help=command.syntax)
    actions = made["knowledge"].add_subparsers(dest="action", metavar="ACTION", required=True)
    download = actions.add_parser("sync", help="download Twilio's dictionary into the database")
    download.add_argument("--url", default=DICTIONARY_URL, help="where to download it from")
    local = actions.add_parser("import", help="import a downloaded copy of the dictionary")
    local.add_argument("file", type=Path)
    return p


def terminal_help_lines() -> list[str]:
    return [f"{PROG} {syntax}: {text}" for _, syntax, text in TERMINAL_ONLY]


# The settings a terminal command reads, where it is not all of them: a bad value of any
# other is left at its default, and named, rather than stopping the command. Someone on
# call asking what a code means should not first have to mend the watcher's settings.
_ANSWERING = frozenset(
    {
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_API_KEY",
        "TWILIO_API_SECRET",
        "TWILIO_API_URL",
        "TWILIO_TIMEOUT_SECONDS",
        "DEFAULT_REGION",
        "LOOKUPS_PER_USER_PER_HOUR",
        "DATABASE_PATH",
        "LOG_LEVEL",
    }
)
READS = {
    "why": _ANSWERING,
    "lookup": _ANSWERING,
    "help": frozenset({"LOG_LEVEL"}),
    "knowledge": frozenset({"DATABASE_PATH", "LOG_LEVEL"}),
    "demo": frozenset({"LOG_LEVEL"}),  # it makes up the rest
    "simulate": frozenset({"LOG_LEVEL"}),
}


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    args = parser().parse_args(argv)
    env = dict(os.environ if environ is None else environ)
    try:
        config = settings.load(env)
    except SettingsError as exc:
        reads = READS.get(args.command)
        if reads is None or not reads.isdisjoint(exc.names):
            return _settings_failure(exc.problems, env)
        for name, problem in zip(exc.names, exc.problems, strict=True):
            note = f"{problem} (ignored: `{args.command}` does not use it)"
            # The policy's numbers are quoted in answers: a bad one falls back to its
            # default, since an answer with the default policy beats no answer.
            if name in settings.POLICY_SETTINGS:
                note = f"{problem} (`{args.command}` quotes its default instead)"
            print(f"{PROG}: {_without_secrets(note, env)}", file=sys.stderr)
            env.pop(name, None)
        try:
            config = settings.load(env)
        except SettingsError as again:
            return _settings_failure(again.problems, env)
    # Does nothing where the root logger is set up already (a host application, pytest).
    logging.basicConfig(level=config.log_level, handlers=[log_handler(config)])
    if not any(isinstance(f, Redactor) for h in logging.getLogger().handlers for f in h.filters):
        log.warning("logging was set up before the bot: its log is not cleared of secrets")
    # At DEBUG, Slack's libraries log whole request bodies: too much to read, even masked.
    for chatty in ("slack_sdk", "slack_bolt"):
        logging.getLogger(chatty).setLevel(
            max(logging.INFO, logging.getLevelName(config.log_level))
        )
    try:
        if args.command in (None, "serve"):
            return serve(config)
        if args.command == "knowledge":
            return knowledge(args, config)
        if args.command == "poll":
            return poll(args.once, config)
        if args.command == "demo":
            from bot.simulation import demo

            return asyncio.run(demo.run(suspend=args.suspend))
        if args.command == "simulate":
            from bot.simulation import simulate

            try:
                return asyncio.run(simulate.run(args.port, spike=args.spike, suspend=args.suspend))
            except KeyboardInterrupt:  # Ctrl-C is how it is meant to stop
                return 0
            except OSError as exc:
                print(f"error: cannot serve the simulator: {exc.strerror}", file=sys.stderr)
                return 1
        return answer(args.command, " ".join(args.args), config)
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def log_handler(config: settings.Settings, stream: TextIO | None = None) -> logging.Handler:
    """The bot's log, to stderr by default; no record leaves it with a secret or a full
    phone number, whichever logger it came from."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(Redactor(config.secrets))
    return handler


def answer(command: str, arguments: str, config: settings.Settings) -> int:
    """Answer one command in the terminal. Without Twilio settings, the store is only read,
    and only if it exists: explaining a code leaves no file behind."""
    result = asyncio.run(_answer(command, arguments, config))
    if isinstance(result, Notice) and result.settings:
        # A settings problem, like any other: on stderr, exit 2 (README, Terminal).
        return _settings_failure([result.text])
    print(render_text(result, PROG, also=terminal_help_lines()))
    if isinstance(result, Usage) and result.problem:
        return 2
    return 1 if isinstance(result, Notice) else 0


async def _answer(command: str, arguments: str, config: settings.Settings) -> commands.Answer:
    with_twilio = not settings.problems_for_twilio(config)
    keep_store = with_twilio or Path(config.database_path).exists()
    store = SqliteStore(config.database_path) if keep_store else None
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
        )
        return await commands.answer(f"{command} {arguments}", service)
    finally:
        if twilio is not None:
            await twilio.close()
        if store is not None:
            store.close()


def knowledge(args: argparse.Namespace, config: settings.Settings) -> int:
    raw = (
        asyncio.run(sync.download(args.url)) if args.action == "sync" else sync.read_file(args.file)
    )
    store = SqliteStore(config.database_path)
    try:
        today = datetime.now(UTC).date().isoformat()
        read, written, skipped = asyncio.run(sync.import_bytes(raw, store, today))
    finally:
        store.close()
    print(
        f"Read {read} error codes ({skipped} unreadable items skipped); stored {written} "
        f"(entries already held in a newer version are kept) in {config.database_path}."
    )
    return 0


def poll(once: bool, config: settings.Settings) -> int:
    """Watch from the terminal or cron. Exit 0 when the cycle ran and Slack has everything,
    1 when a fault stopped it or posts wait for the next run."""
    if missing := settings.problems_for_watching(config):
        return _settings_failure([f"missing {name}" for name in missing])
    return asyncio.run(_poll(once, config))


async def _poll(once: bool, config: settings.Settings) -> int:
    from bot.adapters.slack.poster import Poster, web_client

    store = SqliteStore(config.database_path)
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
        store.close()
    print(f"Read {result.ingested} messages.")
    for reading, step in zip(result.readings, result.steps, strict=True):
        state = step.event or "no incident"
        if step.incident is not None and step.event == "updated":
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
        return _settings_failure([f"missing {name}" for name in missing])
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


def _settings_failure(problems: list[str], env: Mapping[str, str] | None = None) -> int:
    print(f"{PROG}: cannot start, fix these settings first:", file=sys.stderr)
    for problem in problems:
        print(f"  - {_without_secrets(problem, env or {})}", file=sys.stderr)
    print(f"`{PROG} --help` describes every setting.", file=sys.stderr)
    return 2


def _without_secrets(text: str, env: Mapping[str, str]) -> str:
    # A problem quotes the value it could not use, which may be a secret pasted in the
    # wrong place.
    secrets = [env.get(name, "").strip() for name in settings.SECRETS]
    return Redactor(secrets).redact(text)
