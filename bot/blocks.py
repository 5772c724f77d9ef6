"""Blocks: answers rendered as Slack Block Kit, with the plain-text fallback Slack wants.

Every piece of text is escaped here (`&`, `<`, `>`), so nothing a user typed or an
imported dictionary said can become a mention, a channel ping or a link. Block Kit's
text limits are enforced here too: 3 000 characters a section, 2 000 a field, 150 a
header (api.slack.com/reference/block-kit/blocks). An answer has a fixed handful of
blocks, far under Slack's 50.
"""

import re
from typing import Any

from bot.alerting import Incident
from bot.commands import Answer, Notice, Usage, help_lines
from bot.knowledge import Explanation, Section, source_label
from bot.message_report import MessageReport
from bot.messages import utc
from bot.numbers import NumberReport
from bot.privacy import mask_numbers_in
from bot.spikes import CREDENTIALS_CODE, SUSPENDED_CODE, Reading, history, render_spark
from bot.status import StatusReport

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
# The incident message's buttons; each carries the incident's id.
ACK_ACTION_ID = "incident_ack"
MUTE_ACTION_IDS = {"incident_mute_1h": 1, "incident_mute_24h": 24}  # id -> hours
SAMPLES_ACTION_ID = "incident_samples"
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
    if isinstance(answer, Usage):
        return render_usage(answer, prefix)
    if isinstance(answer, Notice):
        return _fallback(answer.text), [_section(escape(answer.text))]
    if isinstance(answer, MessageReport):
        return render_report(answer, prefix, masked)
    if isinstance(answer, NumberReport):
        return render_number(answer)
    if isinstance(answer, StatusReport):
        return _fallback(answer.heading), _document(
            answer.heading, answer.facts(), answer.sections()
        )
    return render_explanation(answer, prefix)


def render_report(report: MessageReport, prefix: str, masked: bool) -> tuple[str, list[Block]]:
    blocks = _document(report.heading, report.facts(masked), report.sections())
    buttons = []
    if not masked:
        # The full number rides in the button, which only the asker can see (ephemeral).
        if report.other_party.startswith("+"):
            buttons.append(
                _button("Look up this number", LOOKUP_ACTION_ID, value=report.other_party)
            )
        buttons.append(_button("Share in channel", SHARE_ACTION_ID, value=report.message.sid))
    if report.explanation is not None:
        ex = report.explanation
        buttons.append(_button(f"Twilio's page for {ex.code}", DOCS_ACTION_ID, url=ex.link))
        blocks.append(_context(f"More on the error: `{prefix} why {ex.code}`"))
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    status = dict(report.facts(masked))["Status"]
    return _fallback(f"{report.heading}: {status}"), blocks


def render_number(report: NumberReport) -> tuple[str, list[Block]]:
    blocks = _document(report.heading, report.facts(), report.sections())
    line_type = report.line_type_name or "line type unknown"
    return _fallback(f"{report.heading}: {line_type}"), blocks


def render_explanation(ex: Explanation, prefix: str) -> tuple[str, list[Block]]:
    blocks = _document(ex.heading, ex.facts(), ex.sections())
    if ex.related:
        related = ", ".join(f"`{prefix} why {code}`" for code in ex.related)
        blocks.append(_context(f"Related: {related}"))
    blocks.append(
        {
            "type": "actions",
            "elements": [_button(f"Twilio's page for {ex.code}", DOCS_ACTION_ID, url=ex.link)],
        }
    )
    if ex.source:
        # Each source passed knowledge's check (Twilio's pages; no `|`, `<` or `>`), so it
        # can sit in a link as it is.
        links = ", ".join(f"<{url}|{source_label(url)}>" for url in ex.sources)
        blocks.append(
            _context(f"Source: {escape(ex.source)}" + (f", from {links}" if links else ""))
        )
    summary = ex.meaning.split("\n")[0]
    return _fallback(f"{ex.heading}: {summary}"), blocks


def render_usage(usage: Usage, prefix: str) -> tuple[str, list[Block]]:
    lines = "\n".join(f"• {escape(line)}" for line in help_lines(prefix))
    blocks: list[Block] = []
    if usage.problem:
        blocks.append(_section(escape(usage.problem)))
    blocks.append(_section(f"*Usage*\n{lines}"))
    return _fallback(usage.problem or f"Usage: {prefix} help"), blocks


_ICONS = {"critical": "🔴", "warning": "🟠", "resolved": "✅"}
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")  # safe to put in a <@...> mention


def render_incident(
    incident: Incident, reading: Reading, explanation: Explanation | None, prefix: str = "/twilio"
) -> tuple[str, list[Block]]:
    """The incident's one Slack message, as it stands now; numbers masked, as it is public."""
    state = "resolved" if incident.resolved_at else incident.severity
    title = explanation.title if explanation and explanation.title else ""
    what = f"{reading.code} {title}".strip()
    if reading.code == CREDENTIALS_CODE:
        heading = f"{_ICONS[state]} {state.capitalize()}: Twilio rejected the bot's credentials"
        heading += f" ({what})"
        facts, sections = _credentials_facts(incident), []
        fallback = heading
    elif reading.code == SUSPENDED_CODE:
        # A condition of the account, not a rate: no rate, baseline or sparkline.
        if reading.account_status != "active":
            what = f"account {reading.account_status} ({what})"
        heading = f"{_ICONS[state]} {state.capitalize()}: {what}"
        facts = _suspension_facts(incident, reading)
        sections = _suspension_sections(reading, over=incident.resolved_at is not None)
        fallback = heading
    else:
        if reading.account_status != "active":
            what = f"account {reading.account_status} ({what})"
        heading = f"{_ICONS[state]} {state.capitalize()}: {what}"
        facts, sections = _spike_facts(incident, reading), _spike_sections(reading)
        fallback = f"{heading}: {reading.rate:.1%}"
    if explanation is not None and explanation.fixes:
        sections.append(Section("Runbook", explanation.fixes[:3], numbered=True))
    blocks = _document(heading, facts, sections)
    notes = [f"Details: `{prefix} why {reading.code}`"]
    if reading.samples:
        notes[0] += f", or `{prefix} why SM…` for a sample"
    if incident.acknowledged_by and SLACK_USER_ID.fullmatch(incident.acknowledged_by):
        notes.append(f"Acknowledged by <@{incident.acknowledged_by}>")  # a mention on purpose
    if incident.muted(reading.until) and not incident.resolved_at:
        notes.append(f"Muted until {utc(incident.muted_until)}")
    blocks.append(_context(" · ".join(notes)))
    if buttons := _incident_buttons(incident, reading):
        blocks.append({"type": "actions", "elements": buttons})
    return _fallback(fallback), blocks


def _spike_facts(incident: Incident, reading: Reading) -> list[tuple[str, str]]:
    minutes = int((reading.until - reading.since).total_seconds() // 60)
    baseline = "no history yet" if reading.baseline is None else f"{reading.baseline:.1%}"
    span = "7 days" if reading.baseline_hours is None else history(reading.baseline_hours)
    facts = [
        ("Rate", f"{reading.rate:.1%} of {reading.final} final messages, last {minutes} min"),
        (f"Baseline ({span})", baseline),
        ("Failures", f"{reading.failed}, to {reading.recipients} recipient(s)"),
        ("Opened", utc(incident.opened_at)),
    ]
    if incident.resolved_at:
        facts.append(("Resolved", utc(incident.resolved_at)))
    elif incident.quiet:
        facts.append(("Recovering", f"{incident.quiet} quiet check(s) in a row"))
    if reading.account_status != "active":
        facts.append(("Account", reading.account_status))
    return facts


def _spike_sections(reading: Reading) -> list[Section]:
    where = [
        f"{label}: " + ", ".join(f"{_masked(name)} ({n})" for name, n in pairs)
        for label, pairs in (
            ("Senders", reading.senders),
            ("Countries", reading.countries),
            ("Carriers", reading.carriers),
        )
        if pairs
    ]
    sections = [Section("Last hour, 5-minute steps", (f"`{render_spark(reading.spark)}`",))]
    if where:
        sections.append(Section("Where it fails", tuple(where)))
    if reading.samples:
        sections.append(Section("Samples", tuple(reading.samples)))
    return sections


def _suspension_facts(incident: Incident, reading: Reading) -> list[tuple[str, str]]:
    minutes = int((reading.until - reading.since).total_seconds() // 60)
    if incident.resolved_at:
        status = "active again"
    elif reading.account_status == "active":
        status = "active at the last check, yet messages fail with 30002"
    else:
        status = reading.account_status
    facts = [
        ("Account status", status),
        ("Since", f"{utc(incident.opened_at)}, when the watcher first saw it"),
    ]
    if reading.failed:
        facts.append(("Failed with 30002", f"{reading.failed} in the last {minutes} min"))
    if incident.resolved_at:
        facts.append(("Resolved", f"{utc(incident.resolved_at)}, when the account was active"))
    return facts


def _suspension_sections(reading: Reading, over: bool) -> list[Section]:
    sections = []
    if not over:
        meanwhile = (
            "Nothing goes out from a suspended account: every number and Messaging Service "
            "stops, and messages already in Twilio's queue fail with 30002 instead of being "
            "sent, until Twilio reinstates the account."
        )
        sections.append(Section("Meanwhile", (meanwhile,)))
    if reading.samples:
        sections.append(Section("Samples", tuple(reading.samples)))
    return sections


def _credentials_facts(incident: Incident) -> list[tuple[str, str]]:
    facts = [("Opened", utc(incident.opened_at))]
    if incident.resolved_at:
        facts.append(("Resolved", f"{utc(incident.resolved_at)}, when Twilio took them again"))
    else:
        facts.append(("Meanwhile", "the watcher reads no messages, so no other alert can fire"))
    return facts


def _incident_buttons(incident: Incident, reading: Reading) -> list[Block]:
    if incident.id is None:
        return []
    value = str(incident.id)
    buttons = []
    if incident.resolved_at is None:
        if not incident.acknowledged_by:
            buttons.append(_button("Acknowledge", ACK_ACTION_ID, value=value))
        for action_id, hours in MUTE_ACTION_IDS.items():
            buttons.append(_button(f"Mute {hours} h", action_id, value=value))
    if reading.samples:
        buttons.append(_button("Show samples", SAMPLES_ACTION_ID, value=value))
    return buttons


def _masked(name: str) -> str:
    return mask_numbers_in(name)  # also `whatsapp:+1…` and other channel addresses


def _document(heading: str, facts: list[tuple[str, str]], sections: list[Section]) -> list[Block]:
    """A header, the facts as fields (Slack allows 10 a section), then one section each."""
    blocks: list[Block] = [_header(heading)]
    for start in range(0, len(facts), MAX_FIELDS):
        fields = [
            _mrkdwn(f"*{label}*\n{escape(value)}", MAX_FIELD_CHARS)
            for label, value in facts[start : start + MAX_FIELDS]
        ]
        blocks.append({"type": "section", "fields": fields})
    return blocks + [_section(f"*{s.heading}*\n{_list(s)}") for s in sections]


def _button(text: str, action_id: str, url: str = "", value: str = "") -> Block:
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


def _mrkdwn(text: str, limit: int) -> dict[str, Any]:
    # verbatim: Slack must not turn words such as @here or #channel into links or pings.
    return {"type": "mrkdwn", "text": clip(text, limit), "verbatim": True}


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(text, MAX_SECTION_CHARS)}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(text, MAX_FIELD_CHARS)]}
