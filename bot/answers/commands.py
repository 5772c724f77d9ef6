"""Commands: the `/twilio …` subcommands, how their text is read, and what each answers.

`SUBCOMMANDS` is the one table of subcommands and the only source of help text. Handlers
get the argument text, a `Context` (whatever does the lookups) and who asked, and return
a value for a renderer; nothing here knows about Slack or the terminal.
"""

import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.answers.hygiene_report import HygieneReport
from bot.answers.knowledge import Explanation
from bot.answers.message_report import MessageReport
from bot.answers.number_report import NumberReport
from bot.answers.phone_numbers import NotANumber, PhoneNumber, read_number
from bot.answers.status import StatusReport
from bot.domain.messages import sid_problem
from bot.errors import BotError, LimitReached, NotConfigured, TwilioError

MAX_COMMAND_CHARS = 500
ECHO_CHARS = 40
_CODE = re.compile(r"(?:error\s*|code\s*)?#?([1-9]\d{4})", re.IGNORECASE)  # Twilio's are 5 digits
# Meant as a SID (so its shape gets a specific answer): starts like one, or is a long
# token of two letters and SID characters, such as an Account SID pasted by mistake.
_SID_LIKE = re.compile(r"[SsMm][Mm][0-9A-Za-z]*|[A-Za-z]{2}[0-9A-Za-z]{18,}")


class Context(Protocol):
    default_region: str

    async def explain(self, code: int) -> Explanation: ...

    async def explain_message(self, sid: str) -> MessageReport: ...

    async def look_up(self, number: PhoneNumber, asker: str | None) -> NumberReport: ...

    async def status(self) -> StatusReport: ...

    async def hygiene(self, full: bool, as_csv: bool) -> HygieneReport: ...


CMD = "{cmd}"  # in a usage problem, where the command as it is typed goes


class IncidentButton(StrEnum):
    ACK = "ack"
    MUTE = "mute"
    SAMPLES = "samples"
    MUTE_SEGMENT = "mute_segment"  # the segment the incident is named after
    UNMUTE_SEGMENT = "unmute_segment"  # from /twilio status: carries the mute's id


@dataclass(frozen=True)
class IncidentAction:
    """What an incident's button asks for; `hours` for a mute, of the incident's messages
    or of its segment."""

    button: IncidentButton
    hours: int = 0


@dataclass(frozen=True)
class Usage:
    """The help text, with what was wrong with the command when something was."""

    problem: str = ""

    def said(self, prefix: str) -> str:
        """The problem, with commands as typed where it is read (`/twilio`, `python -m bot`)."""
        return self.problem.replace(CMD, prefix)


@dataclass(frozen=True)
class Notice:
    """A short message and nothing else: a refusal, or an apology for a fault."""

    text: str
    settings: bool = False  # the answer needs settings that are not set


Answer = Explanation | MessageReport | NumberReport | StatusReport | HygieneReport | Usage | Notice


@dataclass(frozen=True)
class Subcommand:
    name: str
    syntax: str
    help: str
    # (argument text, context, asker: a Slack user ID, or None in the terminal)
    run: Callable[[str, Context, str | None], Awaitable[Answer]]


async def _why(arg: str, ctx: Context, asker: str | None) -> Answer:
    if not arg:
        return Usage(f"`why` needs an error code, like `{CMD} why 30003`.")
    if match := _CODE.fullmatch(arg):
        return await ctx.explain(int(match.group(1)))
    if _SID_LIKE.fullmatch(arg):
        if problem := sid_problem(arg):
            return Usage(f"`{echo(arg)}` is not a Message SID. {problem}")
        try:
            return await ctx.explain_message(arg)
        except NotConfigured as exc:
            return Notice(str(exc), settings=True)
        except TwilioError as exc:
            return Notice(str(exc))
    return Usage(
        f"`{echo(arg)}` is neither an error code nor a Message SID. "
        f"Try `{CMD} why 30003` or `{CMD} why SM…` with a SID from your logs."
    )


async def _lookup(arg: str, ctx: Context, asker: str | None) -> Answer:
    if not arg:
        return Usage(f"`lookup` needs a phone number, like `{CMD} lookup +1 202 555 0156`.")
    number = read_number(arg, ctx.default_region)
    if isinstance(number, NotANumber):
        return Usage(f"`{echo(arg)}` cannot be a phone number. {number.reason}")
    try:
        return await ctx.look_up(number, asker)
    except NotConfigured as exc:
        return Notice(str(exc), settings=True)
    except (TwilioError, LimitReached) as exc:
        return Notice(str(exc))


async def _status(arg: str, ctx: Context, asker: str | None) -> Answer:
    if arg:
        return Usage(f"`status` takes nothing after it, not `{echo(arg)}`.")
    try:
        return await ctx.status()
    except BotError as exc:
        return Notice(str(exc), settings=isinstance(exc, NotConfigured))


async def _hygiene(arg: str, ctx: Context, asker: str | None) -> Answer:
    terminal = asker is None
    if arg not in ("", "--csv"):
        return Usage(f"`hygiene` takes nothing after it but `--csv`, not `{echo(arg)}`.")
    if arg and not terminal:
        return Notice(
            "The CSV, with every number whole, is for the terminal: "
            "`python -m bot hygiene --csv` where the bot runs."
        )
    try:
        return await ctx.hygiene(full=terminal, as_csv=bool(arg))
    except BotError as exc:
        return Notice(str(exc), settings=isinstance(exc, NotConfigured))


async def _help(arg: str, ctx: Context, asker: str | None) -> Answer:
    return Usage()


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand(
        "why",
        "why <error code | Message SID>",
        "what an error code means and what to do; for a message, its status, error and context",
        _why,
    ),
    Subcommand(
        "lookup",
        "lookup <phone number>",
        "what Twilio Lookup says of a number (line type, carrier) and what that means for SMS",
        _lookup,
    ),
    Subcommand(
        "status",
        "status",
        "the account, the watcher's health, each watched code now, and open incidents",
        _status,
    ),
    Subcommand(
        "hygiene",
        "hygiene [--csv]",
        "numbers to stop sending to or to fix, and senders writing to opted-out numbers "
        "(--csv: every number, in the terminal)",
        _hygiene,
    ),
    Subcommand("help", "help", "this help", _help),
)


async def answer(text: str, ctx: Context, asker: str | None = None) -> Answer:
    """Read a command line such as `why 30003` and run the subcommand it names for `asker`
    (a Slack user ID; None for the terminal)."""
    text = normalize(text)
    if len(text) > MAX_COMMAND_CHARS:
        return Usage(
            f"That command is {len(text):,} characters long; commands are at most "
            f"{MAX_COMMAND_CHARS} characters."
        )
    name, _, arg = text.partition(" ")
    if not name:
        return Usage()
    for sub in SUBCOMMANDS:
        if sub.name == name.lower():
            return await sub.run(arg.strip(), ctx, asker)
    return Usage(f"There is no `{echo(name)}` command.")


def refusal(
    user_id: str, channel_id: str, allowed_users: frozenset[str], allowed_channels: frozenset[str]
) -> Notice | None:
    """A polite no when the allowlists (empty = everyone) leave this user or channel out."""
    if allowed_users and user_id not in allowed_users:
        return Notice(
            "Sorry, this bot only answers the people it is set up for. "
            "Ask whoever runs it to add you to `ALLOWED_USERS`."
        )
    if allowed_channels and channel_id not in allowed_channels:
        return Notice(
            "Sorry, this bot is not enabled in this channel. Try one of the channels it is "
            "set up for, or ask to add this one to `ALLOWED_CHANNELS`."
        )
    return None


_ZERO_WIDTH_SPACES = frozenset("\u200b\u2060\ufeff")


def normalize(text: str) -> str:
    """Zero-width spaces become spaces; other invisible format and control characters are
    dropped; whitespace collapses."""
    kept = []
    for ch in text:
        if ch in _ZERO_WIDTH_SPACES:
            kept.append(" ")
        elif unicodedata.category(ch) not in ("Cf", "Cc") or ch.isspace():
            kept.append(ch)
    return " ".join("".join(kept).split())


def echo(text: str) -> str:
    """User text made safe to quote inside backticks: short, one line, no backticks.

    Slack's own escaping of `<`, `>` and `&` happens in the renderer, for all text.
    """
    text = " ".join(text.split()).replace("`", "'")
    return text if len(text) <= ECHO_CHARS else text[: ECHO_CHARS - 1] + "…"


def help_lines(prefix: str, quoted: bool = True) -> list[str]:
    """One line per subcommand: `<prefix> <syntax>`, then what it does; `quoted` puts the
    command in backticks, as Slack shows code."""
    mark = "`" if quoted else ""
    return [f"{mark}{prefix} {sub.syntax}{mark}: {sub.help}" for sub in SUBCOMMANDS]
