"""Thresholds: when a rate is an incident, and how bad one is. Shared by the account-wide
rule (`spikes`) and the rule per segment (`segments`)."""

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Thresholds:
    """When a code's rate is an incident. No defaults here: the settings table holds them
    (ALERT_*), the one place they are written."""

    window: timedelta
    min_messages: int  # final messages in the window
    min_recipients: int  # distinct recipients with the code: one number retried is not it
    warning_rate: float
    critical_rate: float
    baseline_factor: float
    resolve_after: int  # quiet evaluations in a row before an incident is resolved
