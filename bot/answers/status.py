"""Status: what `/twilio status` shows about the account and the watcher.

Pure: built from values (the watcher's last recorded health, fresh readings of each
watched code, the open incidents with their message links, and `now`).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.answers.knowledge import Section
from bot.domain.alerting import Incident
from bot.domain.messages import utc
from bot.domain.spikes import Reading, ReadingKind, history, render_spark
from bot.store.values import SegmentMute
from bot.watcher.health import Health


@dataclass(frozen=True)
class StatusReport:
    account_sid: str
    health: Health | None  # the last cycle's, as recorded; None if none ran
    readings: tuple[Reading, ...]
    incidents: tuple[Incident, ...]
    links: Mapping[int, str]  # incident id -> Slack permalink
    now: datetime
    mutes: tuple[SegmentMute, ...] = ()  # segments left out of detection, now
    whose: Mapping[int, str] = field(default_factory=dict)  # incident id -> its subaccount

    @property
    def account_status(self) -> str:
        return (self.health.account_status if self.health else None) or "unknown"

    @property
    def heading(self) -> str:
        return f"Twilio account {self.account_sid} · {self.account_status}"

    def facts(self) -> list[tuple[str, str]]:
        h = self.health
        if h is None or not h.last_finished:
            return [("Watcher", "no cycle has run yet")]
        ended = datetime.fromtimestamp(h.last_finished, UTC)
        ago = max(0, int((self.now - ended).total_seconds()))
        took = f"{h.last_duration_seconds or 0:.1f}"
        pairs = [
            ("Account", self.account_status),
            ("Last poll", f"{utc(ended)}, {_span(ago)} ago, took {took} s"),
            ("Lag", _span(int(h.lag_seconds)) if h.lag_seconds is not None else ""),
            ("History", _history(h, ended)),
            ("Database", h.database_problem or ""),
            ("Last error", h.last_error or "none"),
            ("Slack posts waiting", str(h.pending_posts)),
            ("Posts Slack refused", str(h.refused_posts or "")),
            ("Slack needs a fix", h.slack_problem or ""),
            ("Twilio faults since start", _faults(h)),
            ("Event Streams", _stream(h, self.now)),
            ("Subaccounts", _subaccounts(h)),
        ]
        return [(label, value) for label, value in pairs if value]

    def sections(self) -> list[Section]:
        found = []
        if self.readings:
            found.append(Section("Watched codes, now", tuple(_line(r) for r in self.readings)))
        incidents = [
            f"{i.severity} · {i.code}"
            + (f" · {self.whose[i.id]}" if i.id is not None and i.id in self.whose else "")
            + f" · open since {utc(i.opened_at)}"
            + (f" · acknowledged by {i.acknowledged_by}" if i.acknowledged_by else "")
            + (f" · {self.links[i.id]}" if i.id is not None and i.id in self.links else "")
            for i in self.incidents
        ]
        found.append(Section("Open incidents", tuple(incidents) or ("None.",)))
        if self.mutes:
            found.append(Section("Muted segments", tuple(_muted(m) for m in self.mutes)))
        return found


def _subaccount_line(r: Reading) -> str:
    """A subaccount's reading: its status, or its own rate (no sparkline: that is the
    account's)."""
    head = f"{r.code} · {r.subaccount_label}: "
    if r.kind == ReadingKind.SUSPENSION:
        failed = f", {r.failed} failed with {r.code} in the window" if r.failed else ""
        return head + r.account_status + failed
    baseline = "" if r.baseline is None else f" (its own baseline {r.baseline:.1%})"
    return head + f"{r.rate:.1%} of {r.final} in the window{baseline}"


def _subaccounts(h: Health) -> str:
    """How many are watched, those not active, and a failed list."""
    if h.subaccounts_watched is None:
        return ""
    line = f"{h.subaccounts_watched} watched, {h.subaccounts_read} read in the last cycle"
    if h.subaccounts_inactive:
        line += "; not active: " + ", ".join(h.subaccounts_inactive)
    if h.subaccounts_failed:
        line += "; Twilio failed the read of " + ", ".join(h.subaccounts_failed)
    if h.subaccounts_reading_back:
        line += f"; {h.subaccounts_reading_back} still reading back older messages"
    if h.subaccounts_problem:
        line += f"; the list could not be read, the last one stands ({h.subaccounts_problem})"
    return line


def _line(r: Reading) -> str:
    if r.subaccount:
        return _subaccount_line(r)
    baseline = "no baseline yet" if r.baseline is None else f"baseline {r.baseline:.1%}"
    if r.baseline is not None and r.baseline_hours is not None:
        baseline += f" over {history(r.baseline_hours)}"
    line = (
        f"{r.code}: {r.rate:.1%} of {r.final} in the window ({baseline}) · last hour "
        f"`{render_spark(r.spark)}`"
    )
    if r.segments:
        line += " · failing in " + ", ".join(
            f"{s.segment.label} ({s.rate:.0%}, normally {s.baseline:.1%})" for s in r.segments[:3]
        )
    return line


def _muted(m: SegmentMute) -> str:
    return f"{m.code} · {m.segment.label} · until {utc(m.until)} · muted by {m.by}"


def _history(h: Health, ended: datetime) -> str:
    """While the stored history is short of BACKFILL_HOURS: how far it reaches, and
    whether the cycles are reading back the rest."""
    if h.history_wanted_since is None or h.history_since is None:
        return ""
    held = max(0, int(ended.timestamp() - h.history_since))
    wanted = max(0, int(ended.timestamp() - h.history_wanted_since))
    since = utc(datetime.fromtimestamp(h.history_since, UTC))
    more = (
        "reading back more each cycle"
        if h.history_reading_back
        else "Twilio did not give the older messages (see the log)"
    )
    return f"{_span(held)} of the last {_span(wanted)} stored, to {since}; {more}"


def _stream(h: Health, now: datetime) -> str:
    """When the last event came, and what the sweeps found that the stream never sent."""
    if h.events_received is None:
        return ""
    ago = max(0, int(now.timestamp() - h.events_received))
    line = f"last event {_span(ago)} ago"
    if not h.events_live:
        return line + "; the stream is quiet, so the Messages list is read every cycle"
    if h.sweep_found is not None:
        line += (
            f"; the last sweep found {h.sweep_found} final statuses the stream had not sent"
            f" ({h.sweep_found_total} since the watcher started)"
        )
    return line


def _faults(h: Health) -> str:
    """Answers Twilio got wrong (retried) and requests that failed every attempt."""
    if not h.twilio_faults:
        return ""
    return f"{h.twilio_faults} retried, {h.twilio_gave_up} given up after every attempt"


def _span(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
