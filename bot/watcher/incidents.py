"""Incidents: given a reading and the incident as stored, what changes and what the
channel should see: a new post, an edit, a thread note, or nothing.

Pure: runs inside the store's transaction (`IncidentRepository.apply`), on whichever
thread the store uses, so it reads nothing and waits on nothing.
"""

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.answers.knowledge import Explanation
from bot.domain import alerting
from bot.domain.alerting import Incident, Step
from bot.domain.spikes import Reading
from bot.domain.thresholds import Thresholds
from bot.render.incident_blocks import render_incident
from bot.store.values import Change, Draft, Drawn, IncidentRecord, PostKind


@dataclass
class Decision:
    """The step `decide` took, kept for the cycle's result (the transaction returns only
    what it saved)."""

    step: Step = field(default_factory=lambda: Step(None))


def decide(
    record: IncidentRecord | None,
    reading: Reading,
    key: str,
    thresholds: Thresholds,
    explanation: Explanation,
    now: datetime,
    decision: Decision,
) -> Change | None:
    """Evaluate `reading` against the incident as the transaction reads it (a button may
    have changed it since the cycle last looked) and say what to write."""
    held = record.incident if record is not None else None
    shown = record.reading if record else None  # the reading its message shows
    reading = alerting.keep_name(shown, reading)
    step = decision.step = alerting.evaluate(held, reading, key, thresholds, now)
    if step.incident is None:
        return None
    changed = step.incident
    fresh = alerting.keep_samples(shown, reading)
    if step.tell_slack and alerting.worth_showing(shown, fresh, held, changed):
        note = step.note or alerting.catch_up_note(shown, changed, fresh, now)
        # Kept with the severity the message now shows, for the next comparison.
        drawn = replace(fresh, severity=changed.severity)
        same = record if changed.id is not None else None  # None: a new incident
        return show(changed, drawn, same, explanation, note)
    # The figures moved too little to be worth a reader's attention: the message keeps
    # what it shows until something they would act on changes.
    return Change(changed)


@dataclass
class Refusal:
    """Why a button changed nothing, as the transaction found the incident."""

    reason: str | None = None


def refusal(record: IncidentRecord | None) -> str | None:
    """Why no button can change this incident, or None."""
    if record is None or record.reading is None:
        return "That incident is not in this bot's database."
    if record.incident.resolved_at is not None:
        return "That incident is already resolved."
    return None


def change_by_button(
    record: IncidentRecord | None,
    changes: dict[str, Any],
    note: str,
    explanation: Explanation,
    refused: Refusal,
) -> Change | None:
    """A button's change (acknowledged, muted), shown on the alert at once; nothing, with
    the reason in `refused`, when the incident as the transaction reads it cannot take it
    (a second Acknowledge, clicked at the same moment as the first, finds it taken)."""
    refused.reason = refusal(record)
    if record is None or record.reading is None or refused.reason is not None:
        return None
    if "acknowledged_by" in changes and (holder := record.incident.acknowledged_by):
        refused.reason = f"It was already acknowledged by <@{holder}>."
        return None
    changed = replace(record.incident, **changes)
    drawn = replace(record.reading, severity=changed.severity)
    return show(changed, drawn, record, explanation, note)


def show(
    incident: Incident,
    reading: Reading,
    record: IncidentRecord | None,
    explanation: Explanation,
    note: str | None,
) -> Change:
    """`incident`, now showing `reading`, and what the channel should see of it: its
    message as it now stands (a post the first time, an edit when it looks different),
    and a thread note. `record` is the incident as stored (None for a new one)."""

    def draw(saved: Incident) -> Drawn:
        text, blocks = render_incident(saved, reading, explanation)
        shown = hashlib.sha256(json.dumps(blocks, sort_keys=True).encode()).hexdigest()
        drafts = []
        if record is None or (record.posted is None and not record.queued):
            drafts.append(Draft(PostKind.POST, text, blocks))
        elif shown != (record.shown if record.posted else ""):
            drafts.append(Draft(PostKind.UPDATE, text, blocks))
        if note:
            drafts.append(Draft(PostKind.REPLY, note, []))
        return Drawn(shown, tuple(drafts))

    return Change(incident, reading, draw)
