"""Blocks: answers rendered as Slack Block Kit, with the plain-text fallback Slack wants.

Every piece of text is escaped here (`&`, `<`, `>`), so nothing a user typed or an
imported dictionary said can become a mention, a channel ping or a link. Block Kit's
text limits are enforced here too: 3 000 characters a section, 2 000 a field, 150 a
header (api.slack.com/reference/block-kit/blocks). An answer has a fixed handful of
blocks, far under Slack's 50.
"""

import re
from typing import Any

from bot.answers.commands import Answer, IncidentAction, IncidentButton, Notice, Usage, help_lines
from bot.answers.hygiene_report import HygieneReport
from bot.answers.knowledge import Explanation, Section, source_label
from bot.answers.message_report import MessageReport
from bot.answers.number_report import NumberReport
from bot.answers.status import StatusReport
from bot.domain.privacy import mask_numbers_in, mask_written_numbers

Block = dict[str, Any]

MAX_SECTION_CHARS = 3000
MAX_FIELD_CHARS = 2000
MAX_HEADER_CHARS = 150
MAX_FALLBACK_CHARS = 3000
MAX_FIELDS = 10
MAX_BUTTON_CHARS = 75
DOCS_ACTION_ID = "open_twilio_docs"
SHARE_ACTION_ID = "share_message"
LOOKUP_ACTION_ID = "lookup_number"
# The incident message's buttons, each with what it asks for; each carries the incident's
# id, but Unmute (on /twilio status), which carries the mute's.
ACK_ACTION_ID = "incident_ack"
SAMPLES_ACTION_ID = "incident_samples"
UNMUTE_ACTION_ID = "segment_unmute"
INCIDENT_ACTIONS = {
    ACK_ACTION_ID: IncidentAction(IncidentButton.ACK),
    "incident_mute_1h": IncidentAction(IncidentButton.MUTE, hours=1),
    "incident_mute_24h": IncidentAction(IncidentButton.MUTE, hours=24),
    SAMPLES_ACTION_ID: IncidentAction(IncidentButton.SAMPLES),
    "segment_mute_24h": IncidentAction(IncidentButton.MUTE_SEGMENT, hours=24),
    "segment_mute_7d": IncidentAction(IncidentButton.MUTE_SEGMENT, hours=7 * 24),
    UNMUTE_ACTION_ID: IncidentAction(IncidentButton.UNMUTE_SEGMENT),
}
MUTE_ACTION_IDS = {  # id -> hours
    action_id: action.hours
    for action_id, action in INCIDENT_ACTIONS.items()
    if action.button == IncidentButton.MUTE
}
MUTE_SEGMENT_ACTION_IDS = {  # id -> hours
    action_id: action.hours
    for action_id, action in INCIDENT_ACTIONS.items()
    if action.button == IncidentButton.MUTE_SEGMENT
}
MAX_MUTES_SHOWN = 20


def mute_span(hours: int) -> str:
    """How long a segment mute lasts, as its button and its thread note say it."""
    return f"{hours // 24} days" if hours % 24 == 0 and hours > 24 else f"{hours} h"


_CUT_ENTITY = re.compile(r"&[a-z]{0,4}$")


def escape(text: str) -> str:
    """Slack's three control characters, escaped as its docs ask."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, never ending inside an escape such as `&amp;`."""
    if len(text) <= limit:
        return text
    return _CUT_ENTITY.sub("", text[: limit - 1]) + "…"


def render(
    answer: Answer, prefix: str = "/twilio", masked: bool = False
) -> tuple[str, list[Block]]:
    """(fallback text, blocks) for an answer; `prefix` is the command users type;
    `masked` hides phone numbers, for anything posted where others can read it."""
    if masked:
        # Every field, not only To and From: Twilio's own error text can carry a number.
        if isinstance(answer, MessageReport):
            text, blocks = render_report(answer, prefix, masked=True)
        else:
            text, blocks = render(answer, prefix)
        return _mask(text), _mask(blocks)
    if isinstance(answer, Usage):
        return render_usage(answer, prefix)
    if isinstance(answer, Notice):
        return fallback(answer.text), [_section(escape(answer.text))]
    if isinstance(answer, MessageReport):
        return render_report(answer, prefix, masked)
    if isinstance(answer, NumberReport):
        return render_number(answer)
    if isinstance(answer, StatusReport):
        return render_status(answer)
    if isinstance(answer, HygieneReport):
        return fallback(answer.heading), document(answer.heading, answer.facts(), answer.sections())
    return render_explanation(answer, prefix)


# A link to one of Twilio's pages, as the renderer writes a source: its address is ours,
# and the digits of an article's ID in it are not a phone number.
_TWILIO_LINK = re.compile(r"(<https://(?:www|help)\.twilio\.com/[^|>\s]*\|)")


def _mask(value: Any) -> Any:
    """`value` with every phone number in its strings masked, however written; the
    addresses of links to Twilio's pages are kept as they are."""
    if isinstance(value, str):
        parts = _TWILIO_LINK.split(value)  # odd items are the addresses
        return "".join(
            part if i % 2 else mask_written_numbers(mask_numbers_in(part))
            for i, part in enumerate(parts)
        )
    if isinstance(value, dict):
        return {key: _mask(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_mask(inner) for inner in value]
    return value


def render_report(report: MessageReport, prefix: str, masked: bool) -> tuple[str, list[Block]]:
    blocks = document(report.heading, report.facts(masked), report.sections())
    buttons = []
    if not masked:
        # The full number rides in the button, which only the asker can see (ephemeral).
        if report.other_party.startswith("+"):
            buttons.append(
                button("Look up this number", LOOKUP_ACTION_ID, value=report.other_party)
            )
        buttons.append(button("Share in channel", SHARE_ACTION_ID, value=report.message.sid))
    if report.explanation is not None:
        ex = report.explanation
        buttons.append(button(f"Twilio's page for {ex.code}", DOCS_ACTION_ID, url=ex.link))
        blocks.append(context(f"More on the error: `{prefix} why {ex.code}`"))
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    status = dict(report.facts(masked))["Status"]
    return fallback(f"{report.heading}: {status}"), blocks


SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")  # safe to put in a <@...> mention


def render_status(report: StatusReport) -> tuple[str, list[Block]]:
    blocks = document(report.heading, report.facts(), report.sections())
    # Who acknowledged an incident or muted a segment, as a mention (as on the alert),
    # not a raw ID.
    people = [("acknowledged by", i.acknowledged_by) for i in report.incidents]
    people += [("muted by", m.by) for m in report.mutes]
    for did, who in people:
        if who and SLACK_USER_ID.fullmatch(who):
            for block in blocks:
                if "text" in block and block["type"] == "section":
                    text = block["text"]["text"].replace(f"{did} {who}", f"{did} <@{who}>")
                    block["text"]["text"] = clip(text, MAX_SECTION_CHARS)
    # Each mute its Unmute button, a block each (an action_id may appear once a block).
    for mute in report.mutes[:MAX_MUTES_SHOWN]:
        label = f"Unmute {mute.code} · {mute.segment.label}"
        unmute = button(label, UNMUTE_ACTION_ID, value=str(mute.id))
        blocks.append({"type": "actions", "elements": [unmute]})
    return fallback(report.heading), blocks


def render_number(report: NumberReport) -> tuple[str, list[Block]]:
    blocks = document(report.heading, report.facts(), report.sections())
    line_type = report.line_type_name or "line type unknown"
    return fallback(f"{report.heading}: {line_type}"), blocks


def render_explanation(ex: Explanation, prefix: str) -> tuple[str, list[Block]]:
    blocks = document(ex.heading, ex.facts(), ex.sections())
    if ex.related:
        related = ", ".join(f"`{prefix} why {code}`" for code in ex.related)
        blocks.append(context(f"Related: {related}"))
    blocks.append(
        {
            "type": "actions",
            "elements": [button(f"Twilio's page for {ex.code}", DOCS_ACTION_ID, url=ex.link)],
        }
    )
    if ex.source:
        # Each source passed knowledge's check (Twilio's pages; no `|`, `<` or `>`), so it
        # can sit in a link as it is.
        links = ", ".join(f"<{url}|{source_label(url)}>" for url in ex.sources)
        blocks.append(
            context(f"Source: {escape(ex.source)}" + (f", from {links}" if links else ""))
        )
    summary = ex.meaning.split("\n")[0]
    return fallback(f"{ex.heading}: {summary}"), blocks


def render_usage(usage: Usage, prefix: str) -> tuple[str, list[Block]]:
    lines = "\n".join(f"• {escape(line)}" for line in help_lines(prefix))
    blocks: list[Block] = []
    if usage.problem:
        blocks.append(_section(escape(usage.said(prefix))))
    blocks.append(_section(f"*Usage*\n{lines}"))
    return fallback(usage.said(prefix) or f"Usage: {prefix} help"), blocks


def document(heading: str, facts: list[tuple[str, str]], sections: list[Section]) -> list[Block]:
    """A header, the facts as fields (Slack allows 10 a section), then one section each."""
    blocks: list[Block] = [_header(heading)]
    for start in range(0, len(facts), MAX_FIELDS):
        fields = [
            _mrkdwn(f"*{label}*\n{escape(value)}", MAX_FIELD_CHARS)
            for label, value in facts[start : start + MAX_FIELDS]
        ]
        blocks.append({"type": "section", "fields": fields})
    return blocks + [_section(f"*{s.heading}*\n{_list(s)}") for s in sections]


def button(text: str, action_id: str, url: str = "", value: str = "") -> Block:
    button: Block = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": clip(text, MAX_BUTTON_CHARS)},
    }
    if url:
        button["url"] = url
    if value:
        button["value"] = value
    return button


def fallback(text: str) -> str:
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


def _mrkdwn(text: str, limit: int) -> dict[str, Any]:
    # verbatim: Slack must not turn words such as @here or #channel into links or pings.
    return {"type": "mrkdwn", "text": clip(text, limit), "verbatim": True}


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(text, MAX_SECTION_CHARS)}


def context(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(text, MAX_FIELD_CHARS)]}
