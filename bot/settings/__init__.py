"""Settings: one table of every environment variable the bot reads (`table`), and the
values built from it (`values`). Nothing else in the bot reads the environment."""

from bot.settings.table import (
    LOG_LEVELS,
    POLICY_SETTINGS,
    SECRETS,
    SETTINGS,
    TOKENS,
    Setting,
    render_markdown,
    render_table,
)
from bot.settings.values import (
    Settings,
    load,
    problems_for_serving,
    problems_for_twilio,
    problems_for_watching,
)

__all__ = [
    "LOG_LEVELS",
    "POLICY_SETTINGS",
    "SECRETS",
    "SETTINGS",
    "TOKENS",
    "Setting",
    "Settings",
    "load",
    "problems_for_serving",
    "problems_for_twilio",
    "problems_for_watching",
    "render_markdown",
    "render_table",
]
