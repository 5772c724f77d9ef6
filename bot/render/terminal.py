"""Terminal: answers rendered as wrapped plain text for `python -m bot why …`."""

import textwrap
from collections.abc import Sequence

from bot.answers.commands import Answer, Notice, Usage, help_lines
from bot.answers.hygiene_report import HygieneReport
from bot.answers.knowledge import Explanation, Section
from bot.answers.message_report import MessageReport
from bot.answers.number_report import NumberReport
from bot.answers.status import StatusReport

WIDTH = 88


def render_text(answer: Answer, prefix: str = "python -m bot", also: Sequence[str] = ()) -> str:
    """`also`: more usage lines, for commands only the terminal has."""
    if isinstance(answer, Notice):
        return answer.text
    if isinstance(answer, Usage):
        # A terminal shows no code formatting: Slack's backticks would only be noise.
        lines = [answer.said(prefix).replace("`", ""), ""] if answer.problem else []
        lines.append("Usage:")
        lines += [f"  {line}" for line in [*help_lines(prefix, quoted=False), *also]]
        return "\n".join(lines)
    if isinstance(answer, MessageReport):
        out = _document(answer.heading, answer.facts(), answer.sections())
        if answer.explanation is not None:
            code = answer.explanation.code
            out += [
                "",
                f"More on the error: {prefix} why {code}",
                f"Twilio's page: {answer.explanation.link}",
            ]
        return "\n".join(out)
    if isinstance(answer, HygieneReport) and answer.csv:
        return answer.csv_text().rstrip("\n")
    if isinstance(answer, NumberReport | StatusReport | HygieneReport):
        return "\n".join(_document(answer.heading, answer.facts(), answer.sections()))
    return _explanation(answer, prefix)


def _explanation(ex: Explanation, prefix: str) -> str:
    out = _document(ex.heading, ex.facts(), ex.sections())
    out.append("")
    if ex.related:
        codes = ", ".join(str(code) for code in ex.related)
        out.append(f"Related: {codes} (`{prefix} why <code>`)")
    out.append(f"Twilio's page: {ex.link}")
    if ex.source:
        out.append(f"Source: {ex.source}" + (", from:" if ex.sources else ""))
        out += [f"  {url}" for url in ex.sources]
    return "\n".join(out)


def _document(heading: str, facts: list[tuple[str, str]], sections: list[Section]) -> list[str]:
    out = [heading, "=" * len(heading)]
    width = max((len(label) for label, _ in facts), default=0) + 2
    for label, value in facts:
        lines = [
            wrapped
            for line in value.split("\n")
            for wrapped in textwrap.wrap(line, WIDTH - width) or [""]
        ]
        out.append(f"{label + ':':<{width}}{lines[0]}")
        out += [" " * width + line for line in lines[1:]]
    for section in sections:
        out += ["", section.heading]
        for i, item in enumerate(section.items, 1):
            marker = f"{i}. " if section.numbered else ("- " if len(section.items) > 1 else "")
            out += textwrap.wrap(
                item,
                WIDTH,
                initial_indent="  " + marker,
                subsequent_indent="  " + " " * len(marker),
            ) or [""]
    return out
