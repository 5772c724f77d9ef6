"""What the watcher needs of the settings, and its tuning, as one value: none of the
secrets, which stay with the clients that use them."""

from dataclasses import dataclass
from datetime import time, timedelta

from bot.domain.policy import Policy
from bot.domain.subaccounts import PARENT_ALONE, Choice
from bot.domain.thresholds import Thresholds
from bot.settings import Settings
from bot.tuning import DEFAULT_TUNING, Tuning


@dataclass(frozen=True)
class WatcherConfig:
    account_sid: str
    alert_channel: str
    alert_codes: tuple[int, ...]
    thresholds: Thresholds
    poll_interval_seconds: float
    settle: timedelta  # how far back each cycle reads again, for late statuses
    backfill: timedelta  # how far back the first cycle reads
    retention: timedelta
    policy: Policy  # the team's numbers, which the digest's hygiene counts use
    digest_time: time | None = None  # UTC; None: no daily digest
    # While Event Streams delivers, how often the Messages list is read (a sweep).
    events_sweep: timedelta = timedelta(minutes=15)
    # How often brands, campaigns and toll-free verifications are read.
    registration_check: timedelta = timedelta(hours=1)
    subaccounts: Choice = PARENT_ALONE  # WATCH_SUBACCOUNTS
    tuning: Tuning = DEFAULT_TUNING

    @classmethod
    def from_settings(cls, settings: Settings, tuning: Tuning | None = None) -> "WatcherConfig":
        return cls(
            account_sid=settings.twilio_account_sid,
            alert_channel=settings.slack_alert_channel,
            alert_codes=settings.alert_codes,
            thresholds=settings.thresholds,
            poll_interval_seconds=settings.poll_interval_seconds,
            settle=settings.settle,
            backfill=settings.backfill,
            retention=settings.retention,
            policy=settings.policy,
            digest_time=settings.digest_time,
            events_sweep=settings.events_sweep,
            registration_check=settings.registration_check,
            subaccounts=settings.subaccounts,
            tuning=tuning or DEFAULT_TUNING,
        )
