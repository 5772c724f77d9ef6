"""The table of every environment variable the bot reads: name, default, help. The
single source for `python -m bot --help` and the README's settings section (a test keeps
them in step)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


# Empty default = unset. Which ones are required depends on the mode: see `problems_for_serving`.
SETTINGS: tuple[Setting, ...] = (
    Setting("SLACK_BOT_TOKEN", "", "Bot token (xoxb-...) of the Slack app. Required to serve."),
    Setting(
        "SLACK_SIGNING_SECRET",
        "",
        "Signing secret of the Slack app; every request to /slack/events is checked with it. "
        "Required in HTTP mode.",
    ),
    Setting(
        "SLACK_APP_TOKEN",
        "",
        "App-level token (xapp-...). When set, the bot connects in Socket Mode "
        "and needs no public URL or signing secret.",
    ),
    Setting(
        "SLACK_API_URL",
        "https://slack.com/api/",
        "Base URL of the Slack Web API (proxies, tests).",
    ),
    Setting("TWILIO_ACCOUNT_SID", "", "The Twilio account to watch (AC...). Required to serve."),
    Setting(
        "TWILIO_API_KEY",
        "",
        "API key SID (SK...) with its TWILIO_API_SECRET: the recommended credentials, "
        "revocable on their own.",
    ),
    Setting("TWILIO_API_SECRET", "", "Secret of TWILIO_API_KEY."),
    Setting(
        "TWILIO_AUTH_TOKEN",
        "",
        "The account's Auth Token, used when no API key is set.",
    ),
    Setting(
        "TWILIO_API_URL",
        "",
        "Origin that replaces every https://*.twilio.com host, paths unchanged "
        "(proxies, tests, the simulator).",
    ),
    Setting(
        "TWILIO_TIMEOUT_SECONDS",
        "10",
        "Longest wait for one Twilio request before it is retried.",
    ),
    Setting(
        "SLACK_ALERT_CHANNEL",
        "",
        "Channel ID (C...) where the watcher posts incidents; without it, nothing is watched.",
    ),
    Setting("POLL_INTERVAL_SECONDS", "60", "How often the watcher reads the account."),
    Setting("ALERT_CODES", "30002,30003", "Comma-separated error codes the watcher alerts on."),
    Setting("ALERT_WINDOW_MINUTES", "15", "The span of recent messages each evaluation looks at."),
    Setting(
        "ALERT_MIN_MESSAGES",
        "20",
        "Messages with a final status the window needs before a rate can alert.",
    ),
    Setting(
        "ALERT_MIN_RECIPIENTS",
        "5",
        "Distinct recipients with the error before it can alert (one number retried is not "
        "an incident).",
    ),
    Setting(
        "ALERT_WARNING_PERCENT",
        "5",
        "Error rate in the window that raises a warning; answers call a code failing for more "
        "than this share of sends systemic (team policy).",
    ),
    Setting(
        "ALERT_CRITICAL_PERCENT",
        "10",
        "Error rate in the window that makes it critical; answers advise escalating to Twilio "
        "above it once handsets are ruled out (team policy).",
    ),
    Setting(
        "ALERT_BASELINE_FACTOR",
        "3",
        "How many times its 7-day baseline a code's rate must reach to alert.",
    ),
    Setting(
        "ALERT_RESOLVE_AFTER",
        "3",
        "Evaluations in a row below the warning level before an incident is resolved.",
    ),
    Setting(
        "SETTLE_MINUTES",
        "30",
        "Recent messages re-read every poll, so statuses that arrive late are seen.",
    ),
    Setting(
        "PUBLIC_URL",
        "",
        "The bot's public base URL (https://...). With TWILIO_AUTH_TOKEN, it enables the "
        "StatusCallback webhook at /twilio/status-callback, whose signatures are checked "
        "against it.",
    ),
    Setting(
        "EVENTS_USER",
        "",
        "With EVENTS_PASSWORD: HTTP Basic credentials every Event Streams delivery to "
        "/twilio/events must carry (put them in the sink URL as user:password@).",
    ),
    Setting("EVENTS_PASSWORD", "", "The password of EVENTS_USER."),
    Setting(
        "EVENTS_SWEEP_MINUTES",
        "15",
        "While Event Streams delivers, the Messages list is read this often instead of "
        "every poll, to catch what the stream missed.",
    ),
    Setting(
        "WATCH_SUBACCOUNTS",
        "",
        "Watch the account's subaccounts too: `all`, or a comma-separated list of their "
        "SIDs. Each one's status and messages are watched with the parent's credentials, "
        "and every alert names its subaccount.",
    ),
    Setting(
        "REGISTRATION_CHECK_MINUTES",
        "60",
        "How often the watcher reads the account's A2P 10DLC brands and campaigns and its "
        "toll-free verifications, and posts when one is rejected, fails, is suspended or "
        "is approved.",
    ),
    Setting(
        "RETRY_WAIT_MINUTES",
        "30",
        "Team policy shown in answers: wait at least this long before sending a 30003 again.",
    ),
    Setting(
        "RETRY_MAX_ATTEMPTS",
        "3",
        "Team policy shown in answers: send a message that failed with 30003 at most this "
        "many more times.",
    ),
    Setting(
        "STREAK_LIMIT",
        "3",
        "Team policy shown in answers: 30003 failures in a row to one number (within "
        "STREAK_DAYS) to tolerate; one more and answers advise to stop sending to it.",
    ),
    Setting("STREAK_DAYS", "7", "The span STREAK_LIMIT counts a number's failures in."),
    Setting(
        "BACKFILL_HOURS",
        "24",
        "History read on the first poll, to build a baseline (no more than RETENTION_DAYS).",
    ),
    Setting(
        "RETENTION_DAYS",
        "8",
        "Messages, looked-up numbers and lookup counts older than this are deleted from the "
        "database (each watcher cycle, or hourly when the bot does not watch).",
    ),
    Setting(
        "DIGEST_TIME",
        "",
        "Time of day in UTC (such as 09:00) when the watcher posts the day before's digest "
        "to SLACK_ALERT_CHANNEL, once; empty: no digest.",
    ),
    Setting(
        "DEFAULT_REGION",
        "US",
        "Country (ISO code such as US or GB) of numbers typed without + and a calling code.",
    ),
    Setting(
        "LOOKUPS_PER_USER_PER_HOUR",
        "30",
        "Paid Twilio Lookups each Slack user may make in an hour; cached answers are free. "
        "0 allows only cached answers.",
    ),
    Setting(
        "ALLOWED_CHANNELS",
        "",
        "Comma-separated Slack channel IDs where /twilio may be used; empty allows every channel.",
    ),
    Setting(
        "ALLOWED_USERS",
        "",
        "Comma-separated Slack user IDs who may use /twilio; empty allows everyone.",
    ),
    Setting(
        "DATABASE_URL",
        "",
        "postgresql://user:password@host:5432/database (libpq options such as sslmode=require "
        "after ?): keep the bot's state in PostgreSQL, which any number of replicas share, "
        "instead of the SQLite file.",
    ),
    Setting(
        "DATABASE_PATH",
        "twilio-ops-bot.db",
        "SQLite file for the bot's state, created on first use, readable by its owner only.",
    ),
    Setting("HOST", "0.0.0.0", "Interface the HTTP server listens on."),
    Setting("PORT", "3000", "Port the HTTP server listens on (Heroku-style platforms set it)."),
    Setting("LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR."),
)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


# The settings the team's policy (bot.domain.policy) is built from: answers quote them.
POLICY_SETTINGS = frozenset(
    {
        "ALERT_WARNING_PERCENT",
        "ALERT_CRITICAL_PERCENT",
        "RETRY_WAIT_MINUTES",
        "RETRY_MAX_ATTEMPTS",
        "STREAK_LIMIT",
        "STREAK_DAYS",
    }
)
TOKENS = (
    ("SLACK_BOT_TOKEN", "xoxb-", "the Bot User OAuth Token, under OAuth & Permissions"),
    ("SLACK_APP_TOKEN", "xapp-", "an App-Level Token, under Basic Information"),
)
SECRETS = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "TWILIO_API_SECRET",
    "TWILIO_AUTH_TOKEN",
    "EVENTS_PASSWORD",
    "DATABASE_URL",  # it may hold the database's password
)


def render_table() -> str:
    """The settings table as plain text, for `--help`."""
    width = max(len(s.name) for s in SETTINGS)
    lines = []
    for s in SETTINGS:
        default = f" (default: {s.default})" if s.default else ""
        lines.append(f"  {s.name.ljust(width)}  {s.help}{default}")
    return "\n".join(lines)


def render_markdown() -> str:
    """The settings table as Markdown, exactly as the README carries it."""
    rows = ["| name | default | meaning |", "|---|---|---|"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default else ""
        rows.append(f"| `{s.name}` | {default} | {s.help} |")
    return "\n".join(rows)
