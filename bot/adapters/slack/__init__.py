"""The Slack adapter, the only package that imports slack_bolt or slack_sdk: the Bolt app
and its listeners (`listeners`), answers through response_url (`replies`), how requests
reach Bolt (`transport`), and the watcher's posts to the alert channel (`poster`)."""

from bot.adapters.slack.listeners import ACTIONS, COMMANDS, build_app
from bot.adapters.slack.replies import SLASH_COMMAND
from bot.adapters.slack.transport import MAX_BODY_BYTES, events_handler, socket_mode_connection

__all__ = [
    "ACTIONS",
    "COMMANDS",
    "MAX_BODY_BYTES",
    "SLASH_COMMAND",
    "build_app",
    "events_handler",
    "socket_mode_connection",
]
