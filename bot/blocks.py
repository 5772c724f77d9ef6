"""Blocks: answers rendered as Slack Block Kit, with the plain-text fallback Slack wants.

Every piece of text is escaped here (`&`, `<`, `>`), so nothing a user typed or an
imported dictionary said can become a mention, a channel ping or a link. Block Kit's
text limits are enforced here too: 3 000 characters a section, 2 000 a field, 150 a
header (api.slack.com/reference/block-kit/blocks). An answer has a fixed handful of
blocks, far under Slack's 50.
"""

import re
from typing import Any

from bot.commands import Answer, Notice, Usage, help_lines
from bot.knowledge import Explanation, Section

Block = dict[str, Any]

MAX_SECTION_CHARS = 3000
MAX_FIELD_CHARS = 2000
MAX_HEADER_CHARS = 150
MAX_FALLBACK_CHARS = 3000
DOCS_ACTION_ID = "open_twilio_docs"
_CUT_ENTITY = re.compile(r"&[a-z]{0,4}$")


def escape(text: str) -> str:
    """Slack's three control characters, escaped as its docs ask."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, never ending inside an escape such as `&amp;`."""
    if len(text) <= limit:
        return text
    return _CUT_ENTITY.sub("", text[: limit - 1]) + "…"


def render(answer: Answer, prefix: str = "/twilio") -> tuple[str, list[Block]]:
    """(fallback text, blocks) for an answer; `prefix` is the command users type."""
    if isinstance(answer, Usage):
        return render_usage(answer, prefix)
    if isinstance(answer, Notice):
        return _fallback(answer.text), [_section(escape(answer.text))]
    return render_explanation(answer, prefix)


def render_explanation(ex: Explanation, prefix: str) -> tuple[str, list[Block]]:
    blocks: list[Block] = [_header(ex.heading)]
    if facts := ex.facts():
        blocks.append(
            {
                "type": "section",
                "fields": [
                    _mrkdwn(f"*{label}*\n{escape(value)}", MAX_FIELD_CHARS)
                    for label, value in facts
                ],
            }
        )
    blocks += [_section(f"*{s.heading}*\n{_list(s)}") for s in ex.sections()]
    if ex.related:
        related = ", ".join(f"`{prefix} why {code}`" for code in ex.related)
        blocks.append(_context(f"Related: {related}"))
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": DOCS_ACTION_ID,
                    "text": {"type": "plain_text", "text": f"Twilio's page for {ex.code}"},
                    "url": ex.link,
                }
            ],
        }
    )
    if ex.source:
        blocks.append(_context(f"Source: {escape(ex.source)}"))
    summary = ex.meaning.split("\n")[0]
    return _fallback(f"{ex.heading}: {summary}"), blocks


def render_usage(usage: Usage, prefix: str) -> tuple[str, list[Block]]:
    lines = "\n".join(f"• {escape(line)}" for line in help_lines(prefix))
    blocks: list[Block] = []
    if usage.problem:
        blocks.append(_section(escape(usage.problem)))
    blocks.append(_section(f"*Usage*\n{lines}"))
    return _fallback(usage.problem or f"Usage: {prefix} help"), blocks


def _fallback(text: str) -> str:
    """The message's `text`: shown in notifications and parsed like any mrkdwn."""
    return clip(escape(text), MAX_FALLBACK_CHARS)


def _list(section: Section) -> str:
    if len(section.items) == 1 and not section.numbered:
        return escape(section.items[0])
    return "\n".join(
        f"{i}. {escape(item)}" if section.numbered else f"• {escape(item)}"
        for i, item in enumerate(section.items, 1)
    )


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, MAX_HEADER_CHARS)}}


def _mrkdwn(text: str, limit: int) -> dict[str, str]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(text, MAX_SECTION_CHARS)}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(text, MAX_FIELD_CHARS)]}
