"""Reading `/twilio …` text: a table of inputs and the answer each must get."""

import pytest

from bot.answers import commands
from bot.answers.commands import Notice, Usage
from bot.answers.hygiene_report import HygieneReport
from bot.answers.knowledge import Explanation
from bot.answers.message_report import MessageReport
from bot.answers.number_report import NumberReport
from bot.answers.phone_numbers import PhoneNumber
from bot.answers.status import StatusReport


class Recorder:
    """A Context that answers every code and remembers which were asked."""

    def __init__(self) -> None:
        self.asked: list[int | str] = []

    async def explain(self, code: int) -> Explanation:
        self.asked.append(code)
        return Explanation(code=code, title="t", link="l", source="s")

    # The reports are stood in for by a Notice, on purpose: the tests check which answer
    # came back by its type, and a real report would need a message or a lookup behind it.
    async def explain_message(self, sid: str) -> MessageReport:
        self.asked.append(sid)
        return Notice(sid)  # type: ignore[return-value]

    default_region = "US"

    async def look_up(self, number: PhoneNumber, asker: str | None) -> NumberReport:
        self.asked.append(f"{number.e164} for {asker}")
        return Notice(number.e164)  # type: ignore[return-value]

    async def status(self) -> StatusReport:
        raise AssertionError("not asked")

    async def hygiene(self, full: bool, as_csv: bool) -> HygieneReport:
        self.asked.append(f"hygiene full={full} csv={as_csv}")
        return Notice("hygiene")  # type: ignore[return-value]


SID = "SM" + "0123456789abcdef" * 2


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("why 30003", 30003),
        ("WHY 30003", 30003),
        ("  why   30003  ", 30003),
        ("why #30003", 30003),
        ("why error 30003", 30003),
        ("why\u200b 30003\ufeff", 30003),  # invisible characters pasted from a web page
        ("why\n30003", 30003),
        ("why\u200b30003", 30003),  # a zero-width space still separates words
        ("why 30003\x00\x07", 30003),  # control characters are dropped
        ("why 21211", 21211),
    ],
)
async def test_why_reads_the_code(text, code):
    ctx = Recorder()
    answer = await commands.answer(text, ctx)
    assert isinstance(answer, Explanation) and ctx.asked == [code]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", ""),
        ("help", ""),
        ("why", "`why` needs an error code, like `/twilio why 30003`."),
        ("why banana", "`banana` is neither an error code nor a Message SID."),
        ("why 30003 30004", "`30003 30004` is neither an error code nor a Message SID."),
        ("why 1", "`1` is neither"),
        ("why 000", "`000` is neither"),
        ("why 03000", "`03000` is neither"),
        ("why 1234567", "`1234567` is neither"),
        ("why `rm -rf`", "`'rm -rf'` is neither"),
        ("stats", "There is no `stats` command."),
        ("status now", "`status` takes nothing after it, not `now`."),
        ("why " + "x" * 100, "`" + "x" * 39 + "…` is not a Message SID. Message SIDs start with"),
        ("why SMabc", "`SMabc` is not a Message SID. A Message SID is 34 characters long"),
        ("why sms", "`sms` is not a Message SID."),
        (
            "why SM0123456789",
            "`SM0123456789` is not a Message SID. "
            "A Message SID is 34 characters long; this one has 12.",
        ),
        (
            "why AC" + "0" * 32,
            "`AC" + "0" * 32 + "` is not a Message SID. Message SIDs start with `SM`",
        ),
        (
            "why sm" + "0" * 32,
            "`sm"
            + "0" * 32
            + "` is not a Message SID. The `SM`/`MM` prefix of a Message SID is upper case.",
        ),
        (
            "why SM" + "g" * 32,
            "`SM" + "g" * 32 + "` is not a Message SID. "
            "After `SM`/`MM`, a Message SID has 32 characters of 0-9 and a-f.",
        ),
        ("lookup", "`lookup` needs a phone number, like `/twilio lookup +1 202 555 0156`."),
        ("lookup banana", "`banana` cannot be a phone number. It has words in it"),
        ("lookup +1 202", "`+1 202` cannot be a phone number. Numbers with the calling code +1"),
        ("lookup <!channel>", "`<!channel>` cannot be a phone number."),
        (
            "why 3" * 1000,
            "That command is 5,000 characters long; commands are at most 500 characters.",
        ),
    ],
)
async def test_usage_says_what_was_wrong(text, problem):
    ctx = Recorder()
    answer = await commands.answer(text, ctx)
    assert isinstance(answer, Usage)
    said = answer.said("/twilio")  # commands as typed in Slack
    assert said.startswith(problem) if problem else answer.problem == ""
    assert ctx.asked == []


@pytest.mark.parametrize("sid", [SID, "MM" + "f" * 32, f"\u200b{SID} "])
async def test_a_well_formed_sid_is_looked_up(sid):
    ctx = Recorder()
    answer = await commands.answer(f"why {sid}", ctx)
    assert isinstance(answer, Notice) and ctx.asked == [sid.strip("\u200b ")]


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("lookup +1 202 555 0156", "+12025550156 for U1"),
        ("LOOKUP (202) 555-0156", "+12025550156 for U1"),
        ("lookup\u200b+12025550156", "+12025550156 for U1"),
    ],
)
async def test_lookup_reads_the_number_and_passes_the_asker(text, asked):
    ctx = Recorder()
    answer = await commands.answer(text, ctx, "U1")
    assert isinstance(answer, Notice) and ctx.asked == [asked]


def test_help_lines_come_from_the_table():
    lines = commands.help_lines("/twilio")
    assert lines == [f"`/twilio {s.syntax}`: {s.help}" for s in commands.SUBCOMMANDS]
    assert {s.name for s in commands.SUBCOMMANDS} == {"why", "lookup", "status", "hygiene", "help"}


@pytest.mark.parametrize(
    ("user", "channel", "users", "channels", "refused"),
    [
        ("U1", "C1", set(), set(), None),
        ("U1", "C1", {"U1"}, set(), None),
        ("U2", "C1", {"U1"}, set(), "ALLOWED_USERS"),
        ("U1", "C2", set(), {"C1"}, "ALLOWED_CHANNELS"),
        ("U1", "C1", {"U1"}, {"C1"}, None),
    ],
)
def test_refusal(user, channel, users, channels, refused):
    result = commands.refusal(user, channel, frozenset(users), frozenset(channels))
    if refused is None:
        assert result is None
    else:
        assert isinstance(result, Notice) and refused in result.text


@pytest.mark.parametrize(
    ("text", "asker", "asked", "said"),
    [
        ("hygiene", "U1", "hygiene full=False csv=False", None),  # Slack: masked, the newest
        ("hygiene", None, "hygiene full=True csv=False", None),  # the terminal: everything
        ("hygiene --csv", None, "hygiene full=True csv=True", None),
        ("hygiene --csv", "U1", None, "python -m bot hygiene --csv"),  # not in a channel
        ("hygiene all", "U1", None, "takes nothing after it but `--csv`"),
    ],
)
async def test_hygiene_is_whole_only_in_the_terminal(text, asker, asked, said):
    ctx = Recorder()
    answer = await commands.answer(text, ctx, asker)
    assert ctx.asked == ([asked] if asked else [])
    if said:
        assert isinstance(answer, Notice | Usage)
        shown = answer.text if isinstance(answer, Notice) else answer.said("/twilio")
        assert said in shown
