"""What the terminal prints beyond answers: the program's name, the commands only the
terminal has (the one table for the parser and for `help`), and a settings failure."""

import sys
from collections.abc import Mapping

from bot import settings
from bot.domain.privacy import Redactor, url_passwords

PROG = "python -m bot"


# The commands only the terminal has (the others are commands.SUBCOMMANDS): the one
# table for the parser and for `help`. (name, syntax, help)
TERMINAL_ONLY = (
    ("serve", "serve", "serve Slack (the default); watches too, with SLACK_ALERT_CHANNEL"),
    ("poll", "poll [--once]", "watch the account and post alerts, without serving Slack"),
    (
        "demo",
        "demo [--suspend] [--fast] [--events]",
        "watch a simulated account: no credentials, no network",
    ),
    (
        "simulate",
        "simulate [--port N] [--spike] [--suspend] [--subaccounts N]",
        "serve the built-in Twilio simulator, and print the settings that point the bot at it",
    ),
    (
        "knowledge",
        "knowledge sync [--url URL] | import FILE",
        "load Twilio's full error dictionary into the database",
    ),
    (
        "events",
        "events setup [--wait S] | status | teardown",
        "make, show or remove the account's Event Streams sink at PUBLIC_URL/twilio/events",
    ),
    (
        "db",
        "db migrate | copy [--from FILE]",
        "bring the database up to date (a release phase), or copy a SQLite file's state "
        "into DATABASE_URL",
    ),
)


def terminal_help_lines() -> list[str]:
    return [f"{PROG} {syntax}: {text}" for _, syntax, text in TERMINAL_ONLY]


def settings_failure(problems: list[str], env: Mapping[str, str] | None = None) -> int:
    print(f"{PROG}: cannot start, fix these settings first:", file=sys.stderr)
    for problem in problems:
        print(f"  - {without_secrets(problem, env or {})}", file=sys.stderr)
    print(f"`{PROG} --help` describes every setting.", file=sys.stderr)
    return 2


def without_secrets(text: str, env: Mapping[str, str]) -> str:
    # A problem quotes the value it could not use, which may be a secret pasted in the
    # wrong place.
    secrets = [env.get(name, "").strip() for name in settings.SECRETS]
    secrets += url_passwords(env.get("DATABASE_URL", ""))
    return Redactor(secrets).redact(text)
