"""Readings that are not a code's rate: the account's suspension (30002, read from the
account's status as much as from messages) and whether Twilio takes the bot's own
credentials. Pure, like `spikes`, whose Reading they are."""

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from bot.domain.messages import Message, when
from bot.domain.spikes import (
    CREDENTIALS_CODE,
    SAMPLES,
    SUSPENDED_CODE,
    Reading,
    Severity,
    outbound_final,
)


def credentials_reading(rejected: bool, now: datetime) -> Reading:
    """Whether Twilio took the bot's credentials this cycle, as a reading: critical while
    it refuses them, as nothing else can be watched meanwhile."""
    return Reading(
        code=CREDENTIALS_CODE,
        severity=Severity.CRITICAL if rejected else None,
        failed=0,
        final=0,
        recipients=0,
        baseline=None,
        since=now,
        until=now,
        senders=(),
        countries=(),
        carriers=(),
        samples=(),
        spark=(),
    )


def suspension_reading(
    reading: Reading,
    status: str,
    inactive_at: datetime | None,
    failing: Iterable[Message],
    watched: bool,
) -> Reading:
    """30002 as the account's status says. Anything but active is critical at once, whether
    or not 30002 is watched. While the account is active, a 30002 is critical when 30002 is
    watched, but only one sent after the account was last seen inactive: those before it
    belong to the suspension that has ended, so reinstatement resolves the incident."""
    if status != "active":
        return replace(reading, account_status=status, severity=Severity.CRITICAL)
    if inactive_at is not None:
        fresh = [
            m
            for m in outbound_final(failing)
            if m.error_code == SUSPENDED_CODE
            and max(reading.since, inactive_at) < when(m) <= reading.until
        ]
        reading = replace(
            reading,
            failed=len(fresh),
            recipients=len({m.to for m in fresh}),
            samples=tuple(m.sid for m in sorted(fresh, key=when, reverse=True)[:SAMPLES]),
        )
    severity = Severity.CRITICAL if watched and reading.failed else None
    return replace(reading, account_status=status, severity=severity)
