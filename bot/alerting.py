"""Alerting: what one evaluation does to an incident: open it, change it, resolve it.

Pure: takes the incident as it stands (or None), a fresh reading and `now`; returns the
incident's new state and what Slack should hear. One incident per key (account + code +
scope) at a time; a resolved one is history, and the next spike opens a new one.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.messages import utc
from bot.spikes import Reading, Thresholds


@dataclass(frozen=True)
class Incident:
    key: str
    code: int
    severity: str  # the worst of "warning" and "critical" while it was last firing
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
class Step:
    """The outcome of one evaluation for one key."""

    incident: Incident | None  # its new state; None when there is no incident
    event: str | None = None  # "opened", "escalated", "eased", "updated", "resolved"
    note: str | None = None  # a line for the incident's thread, when something changed
    tell_slack: bool = False  # muted incidents stay quiet until they resolve


def incident_key(account_sid: str, code: int, scope: str = "account") -> str:
    return f"{account_sid}:{code}:{scope}"


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
            peak_rate=reading.rate,
        )
        return Step(opened, "opened", tell_slack=True)
    if firing:
        assert reading.severity is not None
        state = replace(
            current,
            severity=reading.severity,
            updated_at=now,
            quiet=0,
            peak_rate=max(current.peak_rate, reading.rate),
        )
        event, note = "updated", None
        if reading.severity != current.severity:
            event = "escalated" if reading.severity == "critical" else "eased"
            note = f"{utc(now)}: now {reading.severity}, at {reading.rate:.1%}."
        return Step(state, event, note, tell_slack=not current.muted(now))
    quiet = current.quiet + 1
    if quiet < thresholds.resolve_after:
        state = replace(current, updated_at=now, quiet=quiet)
        return Step(state, "updated", tell_slack=not current.muted(now))
    resolved = replace(current, updated_at=now, quiet=quiet, resolved_at=now)
    note = (
        f"{utc(now)}: resolved after {_duration(now - current.opened_at)}; "
        f"the rate peaked at {current.peak_rate:.1%}."
    )
    return Step(resolved, "resolved", note, tell_slack=True)


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
