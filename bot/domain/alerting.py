"""Alerting: what one evaluation does to an incident: open it, change it, resolve it.

Pure: takes the incident as it stands (or None), a fresh reading and `now`; returns the
incident's new state and what Slack should hear. One incident per key (account + code +
scope) at a time; a resolved one is history, and the next spike opens a new one.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.messages import utc
from bot.domain.segments import Segment
from bot.domain.spikes import Reading, ReadingKind
from bot.domain.thresholds import Severity, Thresholds


@dataclass(frozen=True)
class Incident:
    key: str
    code: int
    severity: Severity  # the worst while it was last firing
    opened_at: datetime
    updated_at: datetime
    quiet: int = 0  # evaluations in a row without the condition
    resolved_at: datetime | None = None
    acknowledged_by: str | None = None
    muted_until: datetime | None = None
    peak_rate: float = 0.0
    id: int | None = None  # the store's row id, once saved

    def muted(self, now: datetime) -> bool:
        return self.muted_until is not None and now < self.muted_until


@dataclass(frozen=True)
class SlackMessage:
    """Where a message is in Slack: its channel's ID and its ts."""

    channel: str
    ts: str


class Event(StrEnum):
    OPENED = "opened"
    ESCALATED = "escalated"
    EASED = "eased"
    UPDATED = "updated"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Step:
    """The outcome of one evaluation for one key."""

    incident: Incident | None  # its new state; None when there is no incident
    event: Event | None = None
    note: str | None = None  # a line for the incident's thread, when something changed
    tell_slack: bool = False  # muted incidents stay quiet until they resolve


def incident_key(account_sid: str, code: int, scope: str = "account") -> str:
    return f"{account_sid}:{code}:{scope}"


def key_account(key: str) -> str:
    """The account (or subaccount) SID an `incident_key` names."""
    return key.partition(":")[0]


def evaluate(
    current: Incident | None, reading: Reading, key: str, thresholds: Thresholds, now: datetime
) -> Step:
    firing = reading.severity is not None
    if current is None or current.resolved_at is not None:
        if not firing:
            return Step(None)
        assert reading.severity is not None
        opened = Incident(
            key=key,
            code=reading.code,
            severity=reading.severity,
            opened_at=now,
            updated_at=now,
            peak_rate=reading.headline_rate,
        )
        return Step(opened, Event.OPENED, tell_slack=True)
    if firing:
        assert reading.severity is not None
        state = replace(
            current,
            severity=reading.severity,
            updated_at=now,
            quiet=0,
            peak_rate=max(current.peak_rate, reading.headline_rate),
        )
        event, note = Event.UPDATED, None
        if reading.severity != current.severity:
            event = Event.ESCALATED if reading.severity == Severity.CRITICAL else Event.EASED
            note = f"{utc(now)}: now {reading.severity}, at {_headline(reading)}."
        return Step(state, event, note, tell_slack=not current.muted(now))
    quiet = current.quiet + 1
    if quiet < thresholds.resolve_after:
        state = replace(current, updated_at=now, quiet=quiet)
        return Step(state, Event.UPDATED, tell_slack=not current.muted(now))
    resolved = replace(current, updated_at=now, quiet=quiet, resolved_at=now)
    lasted = f"{utc(now)}: resolved after {duration(now - current.opened_at)}"
    # Neither of these is a rate: no peak to report.
    if reading.kind == ReadingKind.SUSPENSION:
        note = f"{lasted}: the account is active and no message fails with 30002."
    elif reading.kind == ReadingKind.CREDENTIALS:
        note = f"{lasted}: Twilio accepts the bot's credentials again."
    else:
        note = f"{lasted}; the rate peaked at {current.peak_rate:.1%}."
    return Step(resolved, Event.RESOLVED, note, tell_slack=True)


EDIT_RATE_POINTS = 0.04  # a rate that moved this much since the message was drawn is news


def worth_showing(
    shown: Reading | None, reading: Reading, before: Incident | None, after: Incident
) -> bool:
    """Whether the incident's message should be drawn again: when it is new, or when
    something a reader acts on has changed since it was last drawn (the severity it
    shows, resolution, the account's status, recovery starting or stopping, a mute that
    has run out, the segment it is named after, the rate by EDIT_RATE_POINTS, the
    recipients doubling). Small moves of the figures are left until then. `shown.severity` is the
    severity the message shows."""
    if shown is None or before is None or before.resolved_at is not None:
        return True
    mute_over = after.muted_until is not None and shown.until < after.muted_until <= reading.until
    return (
        after.resolved_at is not None
        or after.severity != shown.severity
        or mute_over
        or reading.account_status != shown.account_status
        or (before.quiet == 0) != (after.quiet == 0)
        or _where(reading) != _where(shown)
        or abs(reading.headline_rate - shown.headline_rate) >= EDIT_RATE_POINTS
        or (shown.recipients > 0 and reading.recipients >= 2 * shown.recipients)
    )


def catch_up_note(
    shown: Reading | None, incident: Incident, reading: Reading, now: datetime
) -> str | None:
    """The thread note for a change of severity the message did not show while it was
    muted, written when it is drawn again."""
    if shown is None or incident.resolved_at is not None or shown.severity == incident.severity:
        return None
    return f"{utc(now)}: after the mute, {incident.severity}, at {_headline(reading)}."


def keep_samples(shown: Reading | None, reading: Reading) -> Reading:
    """The reading with the samples its message already shows kept first, new ones added
    after them up to the same number, so a reader's SID does not vanish on an edit."""
    if shown is None or not shown.samples:
        return reading
    limit = max(len(shown.samples), len(reading.samples))
    kept = shown.samples + tuple(sid for sid in reading.samples if sid not in shown.samples)
    return replace(reading, samples=kept[:limit])


def keep_name(shown: Reading | None, reading: Reading) -> Reading:
    """The reading, keeping the segment the incident's message is named after: while it
    still holds most of the trouble, it stays the name (two segments carrying the same
    messages, a country and its one sender, would otherwise swap places cycle by cycle);
    recovering and resolved, the message says what recovered (its last figures), not
    the account."""
    held = shown.named.segment if shown is not None and shown.named is not None else None
    if held is None or shown is None:
        return reading
    if reading.severity is None:
        if reading.named is not None:
            return reading
        return replace(reading, segments=shown.segments, account_severity=shown.account_severity)
    first = tuple(sorted(reading.segments, key=lambda s: s.segment != held))
    kept = replace(reading, segments=first)
    return kept if kept.named is not None and kept.named.segment == held else reading


def _where(reading: Reading) -> Segment | None:
    """Where a message says it fails: the segment it is named after, if any. (Which other
    segments fail is a detail it updates with the next edit.)"""
    named = reading.named
    return named.segment if named is not None else None


def _headline(reading: Reading) -> str:
    return f"{reading.headline_rate:.1%}"


def duration(span: timedelta) -> str:
    """A span as a thread note or a digest says it: "12 min", "1 h", "2 h 5 min"."""
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
