"""Subaccounts: which of an account's subaccounts the watcher watches, and which of them
it reads this cycle. Pure.

A cycle's Twilio requests should grow with the subaccounts that have traffic, not with
all of them: one with a message in the last ACTIVE_SPAN (or in the settle window, whose
statuses may still change) is read every cycle; a quiet one only every QUIET_ROUNDS
cycles (and never more than QUIET_MOST a cycle), those read longest ago first, so a quiet
one that starts sending is read within QUIET_ROUNDS cycles (with more than QUIET_ROUNDS x
QUIET_MOST quiet ones, within their number / QUIET_MOST cycles). The Accounts list, one
request for up to a thousand subaccounts, gives every one's status each cycle.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.domain.failures import Failures
from bot.domain.segments import SegmentReading
from bot.domain.spikes import Reading
from bot.domain.thresholds import Severity

ACTIVE_SPAN = timedelta(hours=1)
QUIET_ROUNDS = 10
QUIET_MOST = 20  # quiet ones read a cycle, whatever their number
WATCHED_STATUSES = frozenset({"active", "suspended"})  # a closed one is over, not watched


@dataclass(frozen=True)
class Subaccount:
    sid: str
    name: str  # its friendly name at Twilio
    status: str  # active, suspended or closed
    newest: datetime | None = None  # the newest message's creation time the watcher read
    read_at: datetime | None = None  # when its Messages list was last read
    inactive_at: datetime | None = None  # the last cycle that saw it not active
    # When a walk stopped short: the next page's URI, and where the reading back ends.
    reading_back: str | None = None
    back_to: datetime | None = None

    @property
    def label(self) -> str:
        """As alerts name it: "Acme Corp (AC…)", the whole SID (not a secret)."""
        return f"{self.name} ({self.sid})" if self.name else self.sid


def watched(listed: Iterable[Subaccount], every: bool, chosen: frozenset[str]) -> list[Subaccount]:
    """Those WATCH_SUBACCOUNTS names (`every`: all), unless closed."""
    return [
        s for s in listed if (every or s.sid in chosen) and s.status.lower() in WATCHED_STATUSES
    ]


def merged(listed: Sequence[Subaccount], held: dict[str, Subaccount]) -> list[Subaccount]:
    """The list as Twilio gives it now, each keeping what the watcher knew of its reads."""
    return [
        replace(
            s,
            newest=held[s.sid].newest,
            read_at=held[s.sid].read_at,
            inactive_at=held[s.sid].inactive_at,
            reading_back=held[s.sid].reading_back,
            back_to=held[s.sid].back_to,
        )
        if s.sid in held
        else s
        for s in listed
    ]


def busy(subaccount: Subaccount, settle: timedelta, now: datetime) -> bool:
    """Whether it had a message lately: read every cycle."""
    newest = subaccount.newest
    return newest is not None and now - newest <= max(ACTIVE_SPAN, settle)


def due(subaccounts: Sequence[Subaccount], settle: timedelta, now: datetime) -> list[Subaccount]:
    """This cycle's reads: every busy one (and any never read, or reading back), and a
    QUIET_ROUNDS-th of the quiet ones, at most QUIET_MOST, read longest ago first. A
    suspended one is read too: messages queued before the suspension fail with 30002,
    which its incident shows."""
    fresh = [
        s
        for s in subaccounts
        if s.read_at is None or s.reading_back is not None or busy(s, settle, now)
    ]
    chosen = {s.sid for s in fresh}
    quiet = [s for s in subaccounts if s.sid not in chosen]
    share = min(math.ceil(len(quiet) / QUIET_ROUNDS), QUIET_MOST)
    quiet.sort(key=lambda s: (s.read_at or now, s.sid))
    return fresh + quiet[:share]


def suspension(template: Reading, sub: Subaccount, fresh: Failures, watched: bool) -> Reading:
    """A subaccount's 30002 reading, from the account's (`template`): critical while
    Twilio lists it suspended, or, with 30002 watched, when its messages failed with 30002
    since it was last seen suspended (`fresh`)."""
    critical = sub.status != "active" or (watched and fresh.failed > 0)
    return _own(
        template,
        sub,
        severity=Severity.CRITICAL if critical else None,
        failed=fresh.failed,
        recipients=len(fresh.recipients),
        samples=fresh.samples,
        senders=fresh.senders,
        countries=fresh.countries(),
        account_status=sub.status,
    )


def rate(template: Reading, found: SegmentReading, sub: Subaccount) -> Reading:
    """A subaccount's reading of a rate code, from its segment's figures: its own
    incident, judged against its own baseline."""
    return _own(
        template,
        sub,
        severity=found.severity,
        failed=found.failed,
        final=found.final,
        recipients=found.recipients,
        baseline=found.baseline,
        since=template.until - timedelta(minutes=found.minutes),
    )


def quiet(template: Reading, sub: Subaccount, failed: int, final: int) -> Reading:
    """A subaccount's reading with nothing firing, for its open incident to count quiet
    checks (or, for a suspension, to resolve: `sub.status` says why)."""
    return _own(template, sub, severity=None, failed=failed, final=final, account_status=sub.status)


def _own(template: Reading, sub: Subaccount, **figures: Any) -> Reading:
    """`template` with the account-wide details cleared and `figures` set."""
    blank: dict[str, Any] = {
        "failed": 0,
        "final": 0,
        "recipients": 0,
        "baseline": None,
        "senders": (),
        "countries": (),
        "carriers": (),
        "samples": (),
        "spark": (),
        "segments": (),
        "account_severity": None,
        "account_status": "active",
    }
    return replace(template, **{**blank, **figures}, subaccount=sub.sid, subaccount_name=sub.name)
