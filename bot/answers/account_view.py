"""Account view: how one error code stands across the account when a message is asked
about, and exactly what was counted; and the watcher's incident on that code.

Pure: counts or listed messages in, values out.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.domain.alerting import Incident
from bot.domain.failures import Failures
from bot.domain.messages import FINAL_STATUSES, Message, utc, when


@dataclass(frozen=True)
class AccountErrors:
    """How one error code stands across the account, and exactly what was counted: the
    watcher's records of a whole span, or the latest messages Twilio listed."""

    code: int
    failed: int  # messages with this code
    final: int  # messages with a final status counted
    recipients: int  # distinct recipients with this code
    since: datetime  # the span the counted messages cover
    until: datetime
    from_store: bool  # True: every message of the span, as the watcher stored it
    listed: int = 0  # from Twilio: how many messages were listed (final or not)
    sample_full: bool = False  # from Twilio: the list hit its limit, so it is the latest only

    @property
    def rate(self) -> float:
        return self.failed / self.final if self.final else 0.0

    def scope(self) -> str:
        """What the counts cover, in words."""
        span = f"{utc(self.since)} to {self.until.astimezone(UTC):%H:%M} UTC"
        if self.from_store:
            return f"every message the watcher recorded from {span}"
        minutes = max(1, round((self.until - self.since).total_seconds() / 60))
        if self.sample_full:
            return f"the latest {self.listed} messages Twilio listed, {minutes} min ({span})"
        return f"the {self.listed} messages Twilio listed for {span}"


@dataclass(frozen=True)
class IncidentNote:
    """The watcher's incident on the message's error code, open now or open when the
    message was sent."""

    code: int
    severity: str
    opened_at: datetime
    resolved_at: datetime | None
    peak_rate: float
    sent: datetime  # when the message asked about was sent
    suspension: bool = False  # about the account's status, not a rate

    def line(self) -> str:
        peak = "" if self.suspension else f", peaking at {self.peak_rate:.1%}"
        if self.resolved_at is None:
            return (
                f"An incident on {self.code} is open: {self.severity}, since "
                f"{utc(self.opened_at)}{peak}. See the alert channel."
            )
        span = f"{utc(self.opened_at)} to {self.resolved_at.astimezone(UTC):%H:%M} UTC{peak}"
        if self.sent >= self.opened_at:
            return f"This message was sent during an incident on {self.code}, from {span}."
        # An incident opens once its window of failures is measured: the failures that
        # opened it came in the minutes before.
        before = max(1, round((self.opened_at - self.sent).total_seconds() / 60))
        return (
            f"This message was sent {before} min before the watcher opened an incident on "
            f"{self.code} ({span}), among the failures that opened it."
        )


def incident_note(
    incidents: Sequence[Incident],
    code: int,
    sent: datetime,
    lead: timedelta,
    suspension: bool = False,
) -> IncidentNote | None:
    """Of the watcher's incidents on `code`, the one open now, else the one whose span
    held the moment the message was sent (its readings start `lead`, the alert window,
    before it opened)."""
    chosen = next((i for i in incidents if i.resolved_at is None), None) or next(
        (
            i
            for i in incidents
            if i.resolved_at is not None and i.opened_at - lead <= sent <= i.resolved_at
        ),
        None,
    )
    if chosen is None:
        return None
    return IncidentNote(
        code=code,
        severity=chosen.severity,
        opened_at=chosen.opened_at,
        resolved_at=chosen.resolved_at,
        peak_rate=chosen.peak_rate,
        sent=sent,
        suspension=suspension,
    )


def account_from_messages(
    code: int,
    listed: Sequence[Message],
    limit: int,
    since: datetime,
    until: datetime,
) -> AccountErrors:
    """`code` across messages Twilio listed for [since, until]; when the list hit `limit`,
    it holds only the latest, and the span is theirs."""
    full = len(listed) >= limit
    if full and listed:
        since = min(when(m) for m in listed)
    final = [m for m in listed if m.status in FINAL_STATUSES and m.direction != "inbound"]
    hits = [m for m in final if m.error_code == code]
    return AccountErrors(
        code=code,
        failed=len(hits),
        final=len(final),
        recipients=len({m.to for m in hits}),
        since=since,
        until=until,
        from_store=False,
        listed=len(listed),
        sample_full=full,
    )


def account_from_counts(
    code: int,
    counts: Iterable[tuple[datetime, int | None, int]],
    failed_with: Failures,
    since: datetime,
    until: datetime,
) -> AccountErrors:
    """`code` across every final outbound message the watcher stored for [since, until],
    from (moment, error code, how many) counts and the messages that failed with it."""
    final = failed = 0
    for _, error, count in counts:
        final += count
        failed += count if error == code else 0
    return AccountErrors(
        code=code,
        failed=failed,
        final=final,
        recipients=len(failed_with.recipients),
        since=since,
        until=until,
        from_store=True,
    )
