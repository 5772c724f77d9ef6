"""Health: what `/healthz` and `/twilio status` say about the watcher, and its one
encoding in the store, where `status` in any process reads the last cycle's."""

import json
from dataclasses import asdict, dataclass, field, fields

FIRST_CYCLE_GRACE_SECONDS = 600.0  # the first cycle may read a day of history
HEALTH = "watcher_health"  # the store's name for the last cycle's Health (to_json)

# What `/healthz` shows, to anyone who can reach it: status and counts, never what went
# wrong (the channel or account it names), which is for `/twilio status`.
PUBLIC_FIELDS = (
    "started_at",
    "last_started",
    "last_finished",
    "last_success",
    "last_duration_seconds",
    "cycles",
    "account_status",
    "lag_seconds",
    "history_since",
    "history_wanted_since",
    "pending_posts",
    "refused_posts",
    "slack_outage",
    "twilio_faults",
    "twilio_gave_up",
    "events_live",
    "sweep_found",
    "sweep_found_total",
)


@dataclass
class Health:
    started_at: float = 0.0  # when the watcher started, seconds since the epoch
    last_started: float | None = None
    last_finished: float | None = None
    last_duration_seconds: float | None = None
    last_error: str | None = None
    cycles: int = 0
    account_status: str | None = None
    lag_seconds: float | None = None  # now minus the newest message seen
    history_since: float | None = None  # every message from then on is stored
    history_wanted_since: float | None = None  # while that is short of BACKFILL_HOURS
    history_reading_back: bool = False  # and the cycles are reading back the rest
    pending_posts: int = 0
    refused_posts: int = 0  # given up on after Slack refused them again and again
    slack_problem: str | None = None  # what a person must fix before Slack takes posts
    slack_outage: bool = False  # posts wait because Slack failed or was not Slack
    database_problem: str | None = None  # the database fails: what, and what to do
    last_success: float | None = None
    twilio_faults: int = 0  # since the start: 429/5xx/timeouts/unreadable answers, retried
    twilio_gave_up: int = 0  # since the start: requests that failed every attempt
    # Event Streams: when the newest event was received (any process's sink), whether the
    # stream counts as delivering (so the Messages list is only swept), and what the
    # last sweep and all sweeps since the start found that the stream had not delivered.
    events_received: float | None = None
    events_live: bool = False
    swept_at: float | None = None
    sweep_found: int | None = None
    sweep_found_total: int = 0
    # WATCH_SUBACCOUNTS: how many are watched, which of them are not active (as alerts
    # name them), how many Messages lists the last cycle read, and why the last list of
    # subaccounts could not be read (the one before it stands meanwhile).
    subaccounts_watched: int | None = None
    subaccounts_inactive: list[str] = field(default_factory=list)
    subaccounts_read: int = 0
    subaccounts_failed: list[str] = field(default_factory=list)  # Twilio failed, last cycle
    subaccounts_reading_back: int = 0  # with older messages still being read
    subaccounts_problem: str | None = None

    def stalled(
        self, now: float, interval: float, grace: float = FIRST_CYCLE_GRACE_SECONDS
    ) -> bool:
        """No cycle has ended, well or badly, for three intervals (the first, which may
        read a day of history, gets `grace` seconds more)."""
        if self.last_finished is not None:
            return now - self.last_finished > 3 * interval
        return now - self.started_at > 3 * interval + grace

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Health":
        """As `to_json` wrote it; a field an older version did not write keeps its
        default, and one a newer version added is left out."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in json.loads(text).items() if k in known})
