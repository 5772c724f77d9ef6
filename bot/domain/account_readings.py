"""Readings that are not a code's rate: the account's suspension (30002, read from the
account's status as much as from messages) and whether Twilio takes the bot's own
credentials. Pure, like `spikes`, whose Reading they are."""

from dataclasses import replace
from datetime import datetime, timedelta

from bot.domain.failures import Failures
from bot.domain.spikes import CREDENTIALS_CODE, Reading
from bot.domain.thresholds import Severity


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


def fresh_since(window_since: datetime, inactive_at: datetime | None) -> datetime | None:
    """Where the 30002s that still count begin: those of the window sent after the account
    was last seen inactive (not at that moment: it belongs to the suspension). None while
    it never was (they all count)."""
    if inactive_at is None:
        return None
    return max(window_since, inactive_at + timedelta(microseconds=1))


def suspension_reading(
    reading: Reading,
    status: str,
    fresh: Failures | None,
    watched: bool,
) -> Reading:
    """30002 as the account's status says. Anything but active is critical at once, whether
    or not 30002 is watched. While the account is active, a 30002 is critical when 30002 is
    watched, but only one sent since the account was last seen inactive (`fresh`, from
    `fresh_since`): those before it belong to the suspension that has ended, so
    reinstatement resolves the incident."""
    if status != "active":
        return replace(reading, account_status=status, severity=Severity.CRITICAL)
    if fresh is not None:
        reading = replace(
            reading,
            failed=fresh.failed,
            recipients=len(fresh.recipients),
            samples=fresh.samples,
        )
    severity = Severity.CRITICAL if watched and reading.failed else None
    return replace(reading, account_status=status, severity=severity)
