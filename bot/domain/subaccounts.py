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
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.domain import spikes
from bot.domain.failures import Failures, top
from bot.domain.segments import History, Segment, SegmentKind, SegmentReading
from bot.domain.spikes import Baseline, Reading
from bot.domain.thresholds import Severity, Thresholds
from bot.domain.traffic import Traffic

ACTIVE_SPAN = timedelta(hours=1)
QUIET_ROUNDS = 10
QUIET_MOST = 20  # quiet ones read a cycle, whatever their number
WATCHED_STATUSES = frozenset({"active", "suspended"})  # a closed one is over, not watched


@dataclass(frozen=True)
class Choice:
    """WATCH_SUBACCOUNTS: every subaccount (`every`), or those `sids` name; neither is the
    parent alone."""

    every: bool = False
    sids: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return self.every or bool(self.sids)


PARENT_ALONE = Choice()  # WATCH_SUBACCOUNTS unset


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


def watched(listed: Iterable[Subaccount], chosen: Choice) -> list[Subaccount]:
    """Those WATCH_SUBACCOUNTS names, unless closed."""
    return [
        s
        for s in listed
        if (chosen.every or s.sid in chosen.sids) and s.status.lower() in WATCHED_STATUSES
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


def due(
    subaccounts: Sequence[Subaccount],
    settle: timedelta,
    now: datetime,
    rounds: int = QUIET_ROUNDS,
    most: int = QUIET_MOST,
) -> list[Subaccount]:
    """This cycle's reads: every busy one (and any never read, or reading back), and a
    `rounds`-th of the quiet ones, at most `most`, read longest ago first. A
    suspended one is read too: messages queued before the suspension fail with 30002,
    which its incident shows."""
    fresh = [
        s
        for s in subaccounts
        if s.read_at is None or s.reading_back is not None or busy(s, settle, now)
    ]
    chosen = {s.sid for s in fresh}
    quiet = [s for s in subaccounts if s.sid not in chosen]
    share = min(math.ceil(len(quiet) / rounds), most)
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


def ruled(
    code: int,
    watched: Iterable[str],
    span: tuple[int, Traffic],
    histories: Mapping[Segment, History],
    thresholds: Thresholds,
) -> dict[str, SegmentReading]:
    """Of `watched`, those whose own traffic in the window (`span`: its minutes and
    traffic) breaks the account's rule on `code`, against their own history. Not a test
    of the family: for subaccounts whose incident is open, not to open one."""
    minutes, window = span
    found = {}
    for sid in watched:
        place = Segment(SegmentKind.SUBACCOUNT, sid)
        final = window.final.get(place, 0)
        failed = window.failed.get((place, code), 0)
        recipients = window.recipients.get((place, code), 0)
        history = histories.get(place, History())
        baseline = Baseline(history.final, history.failed)
        rate = failed / final if final else 0.0
        severity = spikes.severity(code, failed, final, recipients, rate, baseline, thresholds)
        if severity is None:
            continue
        found[sid] = SegmentReading(
            segment=place,
            severity=severity,
            failed=failed,
            final=final,
            recipients=recipients,
            baseline=baseline.rate or 0.0,
            history=history.final,
            share=final / window.messages if window.messages else 0.0,
            p_value=1.0,  # the account's rule, not a test of the family
            minutes=minutes,
        )
    return found


def left(reading: Reading, window: Traffic) -> Reading:
    """The account's reading of what is left of the window once the subaccounts judged
    apart are out: its figures, and where its failures went."""
    code = reading.code
    rows = [(where, n) for where, failed_code, _, n in window.failures if failed_code == code]

    def most(i: int) -> tuple[tuple[str, int], ...]:
        counted: Counter[str] = Counter()
        for where, n in rows:
            counted[where[i] or ""] += n
        return top(counted)

    return replace(
        reading,
        failed=window.account_failed.get(code, 0),
        final=window.messages,
        recipients=window.account_recipients.get(code, 0),
        countries=most(0),
        senders=most(1),
        carriers=most(2),
    )
