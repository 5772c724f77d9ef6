"""The command line: `python -m bot` serves; `poll` watches; `demo` plays the watcher on
the simulator; `why`, `lookup`, `status`, `help` and `knowledge …` answer in the terminal.

The only place that reads the environment and the clock for the bot as a whole; exit
codes: 0 done, 1 failed, 2 usage or settings problem.
"""

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bot import settings
from bot.answers import commands
from bot.answers.dictionary import DICTIONARY_URL
from bot.cli import database, events
from bot.cli.output import PROG, TERMINAL_ONLY, settings_failure, without_secrets
from bot.cli.runs import answer, knowledge, poll, serve
from bot.domain.privacy import Redactor
from bot.errors import BotError, SettingsError

log = logging.getLogger(__name__)


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
    made["demo"].add_argument(
        "--fast", action="store_true", help="no pause between simulated minutes"
    )
    made["demo"].add_argument(
        "--events", action="store_true", help="statuses arrive through Event Streams"
    )
    made["poll"].add_argument(
        "--once", action="store_true", help="run exactly one cycle, then exit"
    )
    simulate = made["simulate"]
    simulate.add_argument(
        "--port", type=int, default=0, help="port to serve on (default: any free)"
    )
    simulate.add_argument("--spike", action="store_true", help="30003 fails 15 % of messages")
    simulate.add_argument("--suspend", action="store_true", help="the account is suspended")
    simulate.add_argument(
        "--subaccounts", type=int, default=0, help="N subaccounts, each with its own traffic"
    )
    for command in commands.SUBCOMMANDS:
        one = sub.add_parser(command.name, help=command.help)
        if command.name == "hygiene":  # an option, which REMAINDER would not take first
            one.add_argument("--csv", action="store_true", help="every number, as CSV")
        one.add_argument("args", nargs=argparse.REMAINDER, help=command.syntax)
    actions = made["knowledge"].add_subparsers(dest="action", metavar="ACTION", required=True)
    download = actions.add_parser("sync", help="download Twilio's dictionary into the database")
    download.add_argument("--url", default=DICTIONARY_URL, help="where to download it from")
    local = actions.add_parser("import", help="import a downloaded copy of the dictionary")
    local.add_argument("file", type=Path)
    steps = made["db"].add_subparsers(dest="action", metavar="ACTION", required=True)
    steps.add_parser("migrate", help="apply the migrations the database has not had")
    copy = steps.add_parser("copy", help="copy a SQLite file's state into DATABASE_URL")
    copy.add_argument(
        "--from", dest="source", type=Path, help="the SQLite file (default: DATABASE_PATH)"
    )
    streams = made["events"].add_subparsers(dest="action", metavar="ACTION", required=True)
    setup = streams.add_parser("setup", help="make the sink and its subscription, and test it")
    setup.add_argument(
        "--wait",
        type=float,
        default=events.TEST_WAIT_SECONDS,
        help="seconds to wait for the bot to receive Twilio's test event",
    )
    streams.add_parser("status", help="show the sink, its subscription and the last event")
    streams.add_parser("teardown", help="remove what setup made")
    return p


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
        "DATABASE_URL",
        "DATABASE_PATH",
        "LOG_LEVEL",
    }
)
READS = {
    "why": _ANSWERING,
    "lookup": _ANSWERING,
    "help": frozenset({"LOG_LEVEL"}),
    "knowledge": frozenset({"DATABASE_URL", "DATABASE_PATH", "LOG_LEVEL"}),
    "db": frozenset({"DATABASE_URL", "DATABASE_PATH", "LOG_LEVEL"}),
    "hygiene": frozenset({"DATABASE_URL", "DATABASE_PATH", "LOG_LEVEL"}),
    "events": _ANSWERING | {"PUBLIC_URL", "EVENTS_USER", "EVENTS_PASSWORD"},
    "demo": frozenset({"DATABASE_URL", "LOG_LEVEL"}),  # it makes up the rest
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
            return settings_failure(exc.problems, env)
        for name, problem in zip(exc.names, exc.problems, strict=True):
            note = f"{problem} (ignored: `{args.command}` does not use it)"
            # The policy's numbers are quoted in answers: a bad one falls back to its
            # default, since an answer with the default policy beats no answer.
            if name in settings.POLICY_SETTINGS:
                note = f"{problem} (`{args.command}` quotes its default instead)"
            print(f"{PROG}: {without_secrets(note, env)}", file=sys.stderr)
            env.pop(name, None)
        try:
            config = settings.load(env)
        except SettingsError as again:
            return settings_failure(again.problems, env)
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
        if args.command == "db":
            return database.run(args, config)
        if args.command == "events":
            return events.run(args, config)
        if args.command == "poll":
            return poll(args.once, config)
        if args.command == "demo":
            from bot.simulation import demo

            pause = 0 if args.fast else demo.SECONDS_PER_MINUTE
            return asyncio.run(
                demo.run(args.suspend, pause, database_url=config.database_url, events=args.events)
            )
        if args.command == "simulate":
            from bot.simulation import simulate

            try:
                served = simulate.run(
                    args.port, args.spike, args.suspend, subaccounts=max(0, args.subaccounts)
                )
                return asyncio.run(served)
            except KeyboardInterrupt:  # Ctrl-C is how it is meant to stop
                return 0
            except OSError as exc:
                print(f"error: cannot serve the simulator: {exc.strerror}", file=sys.stderr)
                return 1
        given = [*args.args, *(["--csv"] if getattr(args, "csv", False) else [])]
        return answer(args.command, " ".join(given), config)
    except BotError as exc:
        print(f"error: {without_secrets(str(exc), env)}", file=sys.stderr)
        return 1


def log_handler(config: settings.Settings, stream: TextIO | None = None) -> logging.Handler:
    """The bot's log, to stderr by default; no record leaves it with a secret or a full
    phone number, whichever logger it came from."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(Redactor(config.secrets))
    return handler
