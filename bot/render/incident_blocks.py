"""Incident blocks: an incident's one Slack message, as it stands now, in Block Kit.

Pure, like `blocks`, whose escaping and limits it uses. Numbers are masked: the alert
channel is public to the team.
"""

from bot.answers.knowledge import Explanation, Section
from bot.domain.alerting import Incident
from bot.domain.messages import utc
from bot.domain.privacy import mask_numbers_in
from bot.domain.segments import SegmentKind, SegmentReading
from bot.domain.spikes import Reading, ReadingKind, history, render_spark
from bot.domain.thresholds import Severity
from bot.render import places
from bot.render.blocks import (
    ACK_ACTION_ID,
    MUTE_ACTION_IDS,
    MUTE_SEGMENT_ACTION_IDS,
    SAMPLES_ACTION_ID,
    SLACK_USER_ID,
    Block,
    button,
    context,
    document,
    fallback,
    mute_span,
)

_ICONS = {Severity.CRITICAL: "🔴", Severity.WARNING: "🟠", "resolved": "✅"}


def render_incident(
    incident: Incident, reading: Reading, explanation: Explanation | None, prefix: str = "/twilio"
) -> tuple[str, list[Block]]:
    """The incident's one Slack message, as it stands now; numbers masked, as it is public."""
    state = "resolved" if incident.resolved_at else incident.severity
    title = explanation.title if explanation and explanation.title else ""
    what = f"{reading.code} {title}".strip()
    if reading.kind == ReadingKind.CREDENTIALS:
        heading = f"{_ICONS[state]} {state.capitalize()}: Twilio rejected the bot's credentials"
        heading += f" ({what})"
        facts, sections = _credentials_facts(incident), []
        summary = heading
    elif reading.kind == ReadingKind.SUSPENSION:
        # A condition of the account, not a rate: no rate, baseline or sparkline.
        if reading.account_status != "active":
            whose = "subaccount" if reading.subaccount else "account"
            what = f"{whose} {reading.account_status} ({what})"
        heading = f"{_ICONS[state]} {state.capitalize()}: {_whose(what, reading)}"
        facts = _suspension_facts(incident, reading)
        sections = _suspension_sections(reading, over=incident.resolved_at is not None)
        summary = heading
    else:
        named = reading.named
        if named is not None:
            what = f"{reading.code} · {named.segment.label}"
            what += f": {title}" if title else ""
        if reading.account_status != "active" and not reading.subaccount:
            what = f"account {reading.account_status} ({what})"
        heading = f"{_ICONS[state]} {state.capitalize()}: {_whose(what, reading)}"
        facts, sections = _spike_facts(incident, reading), _spike_sections(reading)
        summary = f"{heading}: {reading.headline_rate:.1%}"
        if named is not None:
            checks = places.RUNBOOKS[named.segment.kind]
            kind = named.segment.kind
            title = f"First, for this {'account' if kind == SegmentKind.SUBACCOUNT else kind}"
            sections.append(Section(title, checks, numbered=True))
    if explanation is not None and explanation.fixes:
        sections.append(Section("Runbook", explanation.fixes[:3], numbered=True))
    blocks = document(heading, facts, sections)
    notes = [f"Details: `{prefix} why {reading.code}`"]
    if reading.samples:
        notes[0] += f", or `{prefix} why SM…` for a sample"
    if incident.acknowledged_by and SLACK_USER_ID.fullmatch(incident.acknowledged_by):
        notes.append(f"Acknowledged by <@{incident.acknowledged_by}>")  # a mention on purpose
    if incident.muted(reading.until) and not incident.resolved_at:
        notes.append(f"Muted until {utc(incident.muted_until)}")
    blocks.append(context(" · ".join(notes)))
    if buttons := _incident_buttons(incident, reading):
        blocks.append({"type": "actions", "elements": buttons})
    return fallback(summary), blocks


def _whose(what: str, reading: Reading) -> str:
    """The heading's subject, naming the subaccount when the reading is one's."""
    label = mask_numbers_in(reading.subaccount_label)  # a friendly name is anyone's text
    return f"{what} · {label}" if label else what


def _spike_facts(incident: Incident, reading: Reading) -> list[tuple[str, str]]:
    minutes = int((reading.until - reading.since).total_seconds() // 60)
    baseline = "no history yet" if reading.baseline is None else f"{reading.baseline:.1%}"
    span = "7 days" if reading.baseline_hours is None else history(reading.baseline_hours)
    named = reading.named
    peak = incident.peak_rate > reading.headline_rate
    if named is None:
        facts = [
            ("Rate", f"{reading.rate:.1%} of {reading.final} final messages, last {minutes} min"),
            ("Peak", f"{incident.peak_rate:.1%}" if peak else ""),
            (f"Baseline ({span})", baseline),
            ("Failures", f"{reading.failed}, to {reading.recipients} recipient(s)"),
        ]
    else:
        facts = [
            ("Rate", f"{named.rate:.1%} of {named.final} final messages, last {named.minutes} min"),
            ("Peak", f"{incident.peak_rate:.1%}" if peak else ""),
            ("Its own baseline", _own_baseline(named)),
            ("Share of traffic", f"{named.share:.1%} of the account's messages"),
            ("Failures", f"{named.failed}, to {named.recipients} recipient(s)"),
            (
                "Account-wide",
                f"{reading.rate:.1%} of {reading.final} (baseline {baseline}, {span})",
            ),
        ]
    facts.append(("Opened", utc(incident.opened_at)))
    if incident.resolved_at:
        facts.append(("Resolved", utc(incident.resolved_at)))
    elif incident.quiet:
        facts.append(("Recovering", f"{incident.quiet} quiet check(s) in a row"))
    if reading.account_status != "active":
        facts.append(("Account", reading.account_status))
    return [(label, value) for label, value in facts if value]


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
    sections = []
    if reading.segments:
        sections.append(Section("Failing against their own baseline", _segment_lines(reading)))
    spark = "Last hour, 5-minute steps"
    spark = f"Account-wide, l{spark[1:]}" if reading.segments else spark
    sections.append(Section(spark, (f"`{render_spark(reading.spark)}`",)))
    if where:
        sections.append(Section("Where it fails", tuple(where)))
    if reading.samples:
        sections.append(Section("Samples", tuple(reading.samples)))
    return sections


def _own_baseline(s: SegmentReading) -> str:
    if s.history == 0:
        return f"{s.baseline:.1%}, the account's (no history of its own yet)"
    return f"{s.baseline:.1%} over its last {s.history} final messages"


def _segment_lines(reading: Reading) -> tuple[str, ...]:
    return tuple(
        f"{s.segment.label}: {s.rate:.1%} of {s.final} in {s.minutes} min "
        f"(normally {s.baseline:.1%}), {s.share:.1%} of traffic, "
        f"{s.recipients} recipient(s)"
        for s in reading.segments[:_SEGMENTS_SHOWN]
    ) + (
        (f"and {len(reading.segments) - _SEGMENTS_SHOWN} more",)
        if len(reading.segments) > _SEGMENTS_SHOWN
        else ()
    )


_SEGMENTS_SHOWN = 5


def _suspension_facts(incident: Incident, reading: Reading) -> list[tuple[str, str]]:
    minutes = int((reading.until - reading.since).total_seconds() // 60)
    # A subaccount's incident also ends when it is closed or no longer watched.
    ended = reading.subaccount != "" and reading.account_status not in ("active", "suspended")
    if incident.resolved_at:
        status = reading.account_status if ended else "active again"
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
        why = f"it was {reading.account_status}" if ended else "the account was active"
        facts.append(("Resolved", f"{utc(incident.resolved_at)}, when {why}"))
    return facts


def _suspension_sections(reading: Reading, over: bool) -> list[Section]:
    sections = []
    if not over and reading.account_status != "active":
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
            buttons.append(button("Acknowledge", ACK_ACTION_ID, value=value))
        for action_id, hours in MUTE_ACTION_IDS.items():
            buttons.append(button(f"Mute {hours} h", action_id, value=value))
        named = reading.named
        if named is not None:  # detection leaves that segment out for a while
            for action_id, hours in MUTE_SEGMENT_ACTION_IDS.items():
                text = f"Mute {named.segment.label} {mute_span(hours)}"
                buttons.append(button(text, action_id, value=value))
    if reading.samples:
        buttons.append(button("Show samples", SAMPLES_ACTION_ID, value=value))
    return buttons


def _masked(name: str) -> str:
    return mask_numbers_in(name)  # also `whatsapp:+1…` and other channel addresses
