"""Listeners: the Bolt app, the slash command and every button.

Every listener is an ack (Slack gives 3 seconds) and a lazy part that does the work and
answers through the command's `response_url` (`replies`).
"""

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.response import BoltResponse

from bot.adapters.slack.poster import retry_handlers
from bot.adapters.slack.replies import SLASH_COMMAND, Replies
from bot.answers import commands
from bot.answers.commands import Answer, Context, IncidentAction, IncidentButton, Notice
from bot.answers.message_report import MessageReport
from bot.domain.messages import sid_problem
from bot.errors import BotError
from bot.render.blocks import (
    DOCS_ACTION_ID,
    INCIDENT_ACTIONS,
    LOOKUP_ACTION_ID,
    SHARE_ACTION_ID,
)
from bot.settings import Settings
from bot.tuning import DEFAULT_TUNING, Tuning

log = logging.getLogger(__name__)

AUTH_FAILED = (
    "Slack did not confirm this bot's token just now, so the command was not run. Slack "
    "may be failing: try again in a minute. If it keeps happening, check SLACK_BOT_TOKEN "
    "(the bot's log says what Slack answered)."
)
MALFORMED = (ValueError, TypeError, AttributeError, KeyError, IndexError)


class Handler(Context, Protocol):
    """What the listeners ask of the bot: the commands' context, and the buttons'."""

    async def first_click(self, key: str) -> bool:
        """Whether a click is new: False for a replay of one already handled."""
        ...

    async def incident_action(self, action: IncidentAction, incident_id: str, user: str) -> str: ...

    async def deliver_changes(self) -> None:
        """Send what an incident button queued, where this process is the watcher."""
        ...


def build_app(settings: Settings, context: Handler, tuning: Tuning = DEFAULT_TUNING) -> AsyncApp:
    # Bolt is given the token rather than a client of ours: with both, and the token also
    # in the environment, it logs that the token "will be unused", which misleads.
    app = AsyncApp(
        logger=_bolt_logger(settings.log_level),
        # What a user reads when Bolt's auth.test fails. Bolt's own says the app was
        # uninstalled; most often Slack failed (a 5xx), and the next request tries again.
        user_facing_authorize_error_message=AUTH_FAILED,
        token=settings.slack_bot_token,
        signing_secret=settings.slack_signing_secret,
        # Socket Mode traffic is authenticated by the app token, not signed.
        request_verification_enabled=not settings.socket_mode,
        # Every listener is an ack plus a lazy part that does the work. Run this way, Bolt
        # answers Slack as soon as the ack is done; otherwise it polls every 10 ms for it,
        # which made the floor of every ack 10 ms and, in a burst, far more
        # (bench/commands.py).
        process_before_response=True,
    )
    app.client.base_url = settings.slack_api_url
    app.client.timeout = tuning.slack_timeout_seconds
    app.client.retry_handlers.extend(retry_handlers())
    app.error(_on_error)
    replies = Replies(tuning.slack_timeout_seconds, tuning.answer_retry_seconds)
    app.command(SLASH_COMMAND)(ack=_ack_only, lazy=[_command_listener(settings, context, replies)])
    for action_id, listener in _LISTENERS.items():
        if listener is None:
            app.action(action_id)(_ack_only)
        else:
            app.action(action_id)(ack=_ack_only, lazy=[listener(settings, context, replies)])
    return app


def _bolt_logger(level: str) -> logging.Logger:
    """Bolt's logger, never below INFO. Left to itself, Bolt sets its loggers to the root's
    level, whatever their parents say, and its Web API client then logs every request and
    answer body at DEBUG (issue 14, item 13)."""
    logger = logging.getLogger("slack_bolt.AsyncApp")
    logger.setLevel(max(logging.INFO, logging.getLevelName(level)))
    return logger


REPLAYED = Notice("That click was handled already; nothing was done again.")


async def _replayed(body: dict[str, Any], context: Handler) -> Notice | None:
    """What to answer when this click was handled before, or None: Slack gives each
    interaction its own trigger_id, so a second request with the same one is a replay.
    A database that cannot record the click is said as such, like any answer needing it."""
    trigger = body.get("trigger_id")
    if not isinstance(trigger, str) or not trigger:
        return None
    try:
        first = await context.first_click(f"{_action_value(body, 'action_id')}:{trigger}")
    except BotError as exc:
        log.warning("a click could not be recorded: %s", exc)
        return Notice(str(exc))
    return None if first else REPLAYED


def _command_listener(
    settings: Settings, context: Handler, replies: Replies
) -> Callable[..., Awaitable[None]]:
    async def on_command(command: dict[str, Any], respond: AsyncRespond | None) -> None:
        text = command.get("text", "")
        user = command.get("user_id", "")
        answer = commands.refusal(
            user, command.get("channel_id", ""), settings.allowed_users, settings.allowed_channels
        ) or await _safely(commands.answer(text, context, user), f"/twilio {_first_word(text)}")
        await replies.send(respond, answer, masked=False)

    return on_command


def _share_listener(
    settings: Settings, context: Handler, replies: Replies
) -> Callable[..., Awaitable[None]]:
    """ "Share in channel": the same report, numbers masked, posted for everyone to read."""

    async def on_share(body: dict[str, Any], respond: AsyncRespond | None) -> None:
        sid = _action_value(body)
        refused = commands.refusal(
            _id_of(body, "user"),
            _id_of(body, "channel"),
            settings.allowed_users,
            settings.allowed_channels,
        )
        if refused is None and sid_problem(sid):
            refused = Notice("That button no longer carries a valid Message SID.")
        if refused is None:
            refused = await _replayed(body, context)
        if refused is not None:
            await replies.send(respond, refused, masked=False)
            return
        # The same path as `/twilio why SM…`, so a Twilio fault reads the same way.
        answer = await _safely(commands.answer(f"why {sid}", context), f"share {sid}")
        await replies.send(respond, answer, masked=isinstance(answer, MessageReport))

    return on_share


def _lookup_listener(
    settings: Settings, context: Handler, replies: Replies
) -> Callable[..., Awaitable[None]]:
    """ "Look up this number": `/twilio lookup` for the number the button carries."""

    async def on_lookup(body: dict[str, Any], respond: AsyncRespond | None) -> None:
        number = _action_value(body)
        user = _id_of(body, "user")
        answer = commands.refusal(
            user,
            _id_of(body, "channel"),
            settings.allowed_users,
            settings.allowed_channels,
        ) or await _safely(commands.answer(f"lookup {number}", context, user), "lookup button")
        await replies.send(respond, answer, masked=False)

    return on_lookup


def _incident_listener(
    settings: Settings, context: Handler, replies: Replies, action: IncidentAction
) -> Callable[..., Awaitable[None]]:
    """An incident button: the change shows on the alert for everyone; the clicker gets a
    private word (or, for samples, the sample messages with their full numbers)."""

    async def on_incident(body: dict[str, Any], respond: AsyncRespond | None) -> None:
        incident_id = _action_value(body)
        user = _id_of(body, "user")
        # The alert channel need not be one where commands are allowed: users only.
        refused = commands.refusal(user, "", settings.allowed_users, frozenset())
        samples = action.button == IncidentButton.SAMPLES  # shows, changes nothing
        if refused is None and not samples:
            refused = await _replayed(body, context)
        if refused is None:
            try:
                refused = Notice(await context.incident_action(action, incident_id, user))
            except BotError as exc:
                refused = Notice(str(exc))
            except Exception:
                log.exception("incident button %s failed", action)
                refused = Notice("Something went wrong on the bot's side; it has been logged.")
        assert refused is not None
        await replies.send(respond, refused, masked=False)
        # The alert's edit goes after the clicker has their answer, which must not wait
        # behind Slack's queue for the channel.
        if not samples:
            try:
                await context.deliver_changes()
            except BotError as exc:  # Slack or the database: the next cycle sends it
                log.warning("the edit after incident button %s waits: %s", action, exc)
            except Exception:
                log.exception("the edit after incident button %s was not sent", action)

    return on_incident


def _id_of(body: dict[str, Any], key: str) -> str:
    """The `id` of the payload's user or channel, or "" when it is not there as Slack
    sends it (null, a bare string): an allowlist then refuses, and nothing raises."""
    found = body.get(key)
    value = found.get("id") if isinstance(found, dict) else None
    return value if isinstance(value, str) else ""


def _action_value(body: dict[str, Any], field: str = "value") -> str:
    """The clicked button's value (or another field), or "" when the payload has none a
    button would send."""
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    value = first.get(field) if isinstance(first, dict) else None
    return value if isinstance(value, str) else ""


Listener = Callable[..., Awaitable[None]]

# Every button the app answers, and its listener (None: a link, only acknowledged). The
# one list `build_app` registers from, and the manifest check reads.
_LISTENERS: dict[str, Callable[[Settings, Handler, Replies], Listener] | None] = {
    SHARE_ACTION_ID: _share_listener,
    LOOKUP_ACTION_ID: _lookup_listener,
    DOCS_ACTION_ID: None,
    **{
        action_id: functools.partial(_incident_listener, action=action)
        for action_id, action in INCIDENT_ACTIONS.items()
    },
}
COMMANDS = (SLASH_COMMAND,)
ACTIONS = tuple(_LISTENERS)


async def _safely(answer: Awaitable[Answer], what: str) -> Answer:
    try:
        return await answer
    except BotError as exc:
        # Ours, worded for the reader: the database failing, Twilio not configured.
        log.warning("%s failed: %s", what, exc)
        return Notice(str(exc))
    except Exception:
        # A bug, not a user error: keep the traceback, tell the user briefly.
        log.exception("%s failed", what)
        return Notice("Something went wrong on the bot's side; it has been logged.")


def _first_word(text: str) -> str:
    # The rest may be a phone number, which logs must not carry.
    return commands.echo(commands.normalize(text).partition(" ")[0])


async def _on_error(error: Exception, response: BoltResponse | None) -> BoltResponse | None:
    """Bolt's error handler. Listeners' work runs after the ack, so an error that reaches
    Bolt comes from reading the request: JSON of the wrong shape (a list for `actions`, a
    null `user`) makes its matchers raise, which by default is a 500."""
    if isinstance(error, MALFORMED) and response is not None:
        return malformed(error)
    log.error("Bolt could not handle a request", exc_info=error)
    return None


def malformed(error: Exception) -> BoltResponse:
    # Nothing of the body is logged: it may carry anything.
    log.warning("a malformed request to /slack/events refused (%s)", type(error).__name__)
    return BoltResponse(status=400, body="malformed request")


async def _ack_only(ack: AsyncAck) -> None:
    # Also alone, for the link button: it still sends an action, and unacknowledged, Slack
    # shows the user a warning.
    await ack()
