"""What the watcher needs of the settings, and its tuning, as one value: none of the
secrets, which stay with the clients that use them."""

from dataclasses import dataclass, field
from datetime import timedelta

from bot.domain.spikes import Thresholds
from bot.settings import Settings
from bot.watcher.health import FIRST_CYCLE_GRACE_SECONDS


@dataclass(frozen=True)
class Tuning:
    """What a test or a benchmark may change; never a setting."""

    page_size: int = 1000  # messages a page, Twilio's largest
    max_pages: int = 250  # a cycle: 250 000 messages, newest first; older ones are not read
    save_batch: int = 10_000  # messages written to the store in one transaction
    first_cycle_grace_seconds: float = FIRST_CYCLE_GRACE_SECONDS


DEFAULT_TUNING = Tuning()


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
    tuning: Tuning = field(default_factory=Tuning)

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
            tuning=tuning or Tuning(),
        )
