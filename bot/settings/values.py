"""Settings as values: built once from the environment by `load`, which names every
value it cannot use; nothing else in the bot reads the environment."""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta

from bot.answers.phone_numbers import known_region
from bot.domain.policy import Policy
from bot.domain.privacy import url_passwords
from bot.domain.subaccounts import Choice
from bot.domain.thresholds import Thresholds
from bot.errors import SettingsError
from bot.settings.database_url import database_url_problem, shown
from bot.settings.table import LOG_LEVELS, SECRETS, SETTINGS, TOKENS

_ACCOUNT_SID = re.compile(r"AC[0-9a-f]{32}")


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str = field(repr=False)
    slack_signing_secret: str = field(repr=False)
    slack_app_token: str = field(repr=False)
    slack_api_url: str
    twilio_account_sid: str
    twilio_api_key: str
    twilio_api_secret: str = field(repr=False)
    twilio_auth_token: str = field(repr=False)
    twilio_api_url: str
    twilio_timeout_seconds: float
    default_region: str
    lookups_per_user_per_hour: int
    slack_alert_channel: str
    public_url: str
    events_user: str
    events_password: str = field(repr=False)
    events_sweep: timedelta
    registration_check: timedelta
    subaccounts: Choice  # WATCH_SUBACCOUNTS
    poll_interval_seconds: float
    alert_codes: tuple[int, ...]
    thresholds: Thresholds
    policy: Policy
    settle: timedelta
    backfill: timedelta
    retention: timedelta
    digest_time: time | None  # UTC; None: no daily digest
    allowed_channels: frozenset[str]
    allowed_users: frozenset[str]
    database_url: str = field(repr=False)
    database_path: str
    host: str
    port: int
    log_level: str

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values no log line may carry."""
        values = [getattr(self, name.lower()) for name in SECRETS]
        # The password alone too (in the user part or a `password=` option): an error may
        # quote it without the URL.
        values += url_passwords(self.database_url)
        return tuple(value for value in values if value)

    @property
    def events_credentials(self) -> tuple[str, str] | None:
        """What every Event Streams delivery must carry as HTTP Basic, if anything."""
        return (self.events_user, self.events_password) if self.events_user else None

    @property
    def twilio_credentials(self) -> tuple[str, str]:
        """(username, password) for Basic auth: the API key pair when set, else the token."""
        if self.twilio_api_key:
            return self.twilio_api_key, self.twilio_api_secret
        return self.twilio_account_sid, self.twilio_auth_token


def load(environ: Mapping[str, str]) -> Settings:
    """Build settings from `environ`; raises SettingsError naming every value that is unusable."""
    raw = {s.name: environ.get(s.name, "").strip() or s.default for s in SETTINGS}
    problems: dict[str, str] = {}
    port = 0
    try:
        port = int(raw["PORT"])
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        problems["PORT"] = f"PORT must be a port number, not {shown(raw['PORT'])}"
    log_level = raw["LOG_LEVEL"].upper()
    if log_level not in LOG_LEVELS:
        problems["LOG_LEVEL"] = f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}"
    api_url = raw["SLACK_API_URL"]
    for name in ("SLACK_API_URL", "TWILIO_API_URL", "PUBLIC_URL"):
        if raw[name] and not raw[name].startswith(("http://", "https://")):
            problems[name] = f"{name} must be an http(s) URL"
    # Each Slack token has its own prefix; the other one pasted in its place would be
    # taken, and fail later in ways that do not say why.
    for name, prefix, what in TOKENS:
        value = raw[name]
        if value and not value.startswith(prefix):
            other = next((n for n, p, _ in TOKENS if n != name and value.startswith(p)), None)
            hint = f"; that looks like the token for {other}" if other else ""
            problems[name] = f"{name} must be {what} ({prefix}…){hint}"
    if raw["TWILIO_ACCOUNT_SID"] and not _ACCOUNT_SID.fullmatch(raw["TWILIO_ACCOUNT_SID"]):
        problems["TWILIO_ACCOUNT_SID"] = "TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits"
    timeout = _number(raw, "TWILIO_TIMEOUT_SECONDS", float, problems)
    region = raw["DEFAULT_REGION"].upper()
    if not known_region(region):
        problems["DEFAULT_REGION"] = (
            "DEFAULT_REGION must be a country code such as US or GB, not "
            f"{shown(raw['DEFAULT_REGION'])}"
        )
    poll_interval = _number(raw, "POLL_INTERVAL_SECONDS", float, problems)
    codes = _codes(raw["ALERT_CODES"], problems)
    warning_percent = _number(raw, "ALERT_WARNING_PERCENT", float, problems)
    critical_percent = _number(raw, "ALERT_CRITICAL_PERCENT", float, problems)
    thresholds = Thresholds(
        window=timedelta(minutes=_number(raw, "ALERT_WINDOW_MINUTES", float, problems)),
        min_messages=int(_number(raw, "ALERT_MIN_MESSAGES", int, problems)),
        min_recipients=int(_number(raw, "ALERT_MIN_RECIPIENTS", int, problems)),
        warning_rate=warning_percent / 100,
        critical_rate=critical_percent / 100,
        baseline_factor=_number(raw, "ALERT_BASELINE_FACTOR", float, problems),
        resolve_after=int(_number(raw, "ALERT_RESOLVE_AFTER", int, problems)),
    )
    rules = Policy(
        retry_wait_minutes=int(_number(raw, "RETRY_WAIT_MINUTES", int, problems)),
        retry_max=int(_number(raw, "RETRY_MAX_ATTEMPTS", int, problems)),
        systemic_percent=warning_percent,
        escalate_percent=critical_percent,
        streak_limit=int(_number(raw, "STREAK_LIMIT", int, problems)),
        streak_days=int(_number(raw, "STREAK_DAYS", int, problems)),
    )
    settle = timedelta(minutes=_number(raw, "SETTLE_MINUTES", float, problems))
    events_sweep = timedelta(minutes=_number(raw, "EVENTS_SWEEP_MINUTES", float, problems))
    check = timedelta(minutes=_number(raw, "REGISTRATION_CHECK_MINUTES", float, problems))
    subaccounts = _subaccounts(raw["WATCH_SUBACCOUNTS"], problems)
    if bool(raw["EVENTS_USER"]) != bool(raw["EVENTS_PASSWORD"]):
        problems["EVENTS_USER"] = "EVENTS_USER and EVENTS_PASSWORD go together: set both or neither"
    elif ":" in raw["EVENTS_USER"]:
        problems["EVENTS_USER"] = "EVENTS_USER cannot hold a colon (HTTP Basic splits on it)"
    backfill = timedelta(hours=_number(raw, "BACKFILL_HOURS", float, problems))
    retention = timedelta(days=_number(raw, "RETENTION_DAYS", float, problems))
    digest_time = None
    if raw["DIGEST_TIME"]:
        found = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", raw["DIGEST_TIME"].strip())
        if found is None:
            problems["DIGEST_TIME"] = (
                "DIGEST_TIME must be a time of day in UTC such as 09:00, or empty for no "
                f"digest, not {shown(raw['DIGEST_TIME'])}"
            )
        else:
            digest_time = time(int(found.group(1)), int(found.group(2)))
    lookups = raw["LOOKUPS_PER_USER_PER_HOUR"]
    if not (lookups.isascii() and lookups.isdigit()):
        problems["LOOKUPS_PER_USER_PER_HOUR"] = (
            f"LOOKUPS_PER_USER_PER_HOUR must be a whole number, not {shown(lookups)}"
        )
    if problem := database_url_problem(raw["DATABASE_URL"]):
        problems["DATABASE_URL"] = problem
    if problems:
        raise SettingsError(list(problems.values()), tuple(problems))
    return Settings(
        slack_bot_token=raw["SLACK_BOT_TOKEN"],
        slack_signing_secret=raw["SLACK_SIGNING_SECRET"],
        slack_app_token=raw["SLACK_APP_TOKEN"],
        # slack_sdk joins method names with urljoin, which drops the last path segment
        # unless the base ends with "/".
        slack_api_url=api_url if api_url.endswith("/") else api_url + "/",
        twilio_account_sid=raw["TWILIO_ACCOUNT_SID"],
        twilio_api_key=raw["TWILIO_API_KEY"],
        twilio_api_secret=raw["TWILIO_API_SECRET"],
        twilio_auth_token=raw["TWILIO_AUTH_TOKEN"],
        twilio_api_url=raw["TWILIO_API_URL"].rstrip("/"),
        twilio_timeout_seconds=timeout,
        default_region=region,
        lookups_per_user_per_hour=int(lookups),
        slack_alert_channel=raw["SLACK_ALERT_CHANNEL"],
        public_url=raw["PUBLIC_URL"].rstrip("/"),
        events_user=raw["EVENTS_USER"],
        events_password=raw["EVENTS_PASSWORD"],
        events_sweep=events_sweep,
        registration_check=check,
        subaccounts=subaccounts,
        poll_interval_seconds=poll_interval,
        alert_codes=codes,
        thresholds=thresholds,
        policy=rules,
        settle=settle,
        backfill=backfill,
        retention=retention,
        digest_time=digest_time,
        allowed_channels=_id_set(raw["ALLOWED_CHANNELS"]),
        allowed_users=_id_set(raw["ALLOWED_USERS"]),
        database_url=raw["DATABASE_URL"],
        database_path=raw["DATABASE_PATH"],
        host=raw["HOST"],
        port=port,
        log_level=log_level,
    )


def problems_for_serving(settings: Settings) -> list[str]:
    """What is missing before the bot can serve Slack, every name at once."""
    missing = []
    if not settings.slack_bot_token:
        missing.append("SLACK_BOT_TOKEN")
    if not settings.socket_mode and not settings.slack_signing_secret:
        missing.append("SLACK_SIGNING_SECRET")
    return missing + problems_for_twilio(settings)


def problems_for_watching(settings: Settings) -> list[str]:
    """What is missing before the watcher can poll Twilio and post alerts to Slack."""
    missing = []
    if not settings.slack_bot_token:
        missing.append("SLACK_BOT_TOKEN")
    if not settings.slack_alert_channel:
        missing.append("SLACK_ALERT_CHANNEL")
    return missing + problems_for_twilio(settings)


def problems_for_twilio(settings: Settings) -> list[str]:
    """What is missing before the bot can call Twilio."""
    missing = []
    if not settings.twilio_account_sid:
        missing.append("TWILIO_ACCOUNT_SID")
    if settings.twilio_api_key and not settings.twilio_api_secret:
        missing.append("TWILIO_API_SECRET")
    elif not settings.twilio_api_key and not settings.twilio_auth_token:
        missing.append("TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and TWILIO_API_SECRET)")
    return missing


def _number(
    raw: dict[str, str], name: str, kind: type[int] | type[float], problems: dict[str, str]
) -> float:
    try:
        value = kind(raw[name])
    except ValueError:
        value = 0
    if not (0 < value < math.inf):  # also refuses nan
        problems[name] = f"{name} must be a positive number, not {shown(raw[name])}"
        value = 1
    return value


def _codes(value: str, problems: dict[str, str]) -> tuple[int, ...]:
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if not parts or not all(p.isascii() and p.isdigit() and len(p) == 5 for p in parts):
        problems["ALERT_CODES"] = (
            f"ALERT_CODES must be 5-digit Twilio error codes, not {shown(value)}"
        )
        return ()
    return tuple(dict.fromkeys(int(p) for p in parts))


def _subaccounts(value: str, problems: dict[str, str]) -> Choice:
    """WATCH_SUBACCOUNTS: `all`, or Account SIDs (none: the parent alone)."""
    if value.strip().lower() == "all":
        return Choice(every=True)
    sids = _id_set(value)
    if wrong := [sid for sid in sids if not _ACCOUNT_SID.fullmatch(sid)]:
        problems["WATCH_SUBACCOUNTS"] = (
            "WATCH_SUBACCOUNTS must be `all` or Account SIDs (AC followed by 32 hex digits), "
            f"not {shown(wrong[0])}"
        )
        return Choice()
    return Choice(sids=sids)


def _id_set(value: str) -> frozenset[str]:
    return frozenset(part.strip() for part in value.split(",") if part.strip())
