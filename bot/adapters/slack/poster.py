"""Slack poster: the watcher's way into the alert channel (post, reply in a thread, edit)
through slack_sdk's Web API client, and what each way Slack can fail means for a post.

With `slack` (Bolt and its listeners) the only modules that import slack_sdk.
"""

import logging
from collections.abc import Awaitable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.alerting import SlackMessage
from bot.errors import SlackError, SlackMisconfigured, SlackRejected, SlackUnavailable
from bot.settings import Settings
from bot.tuning import DEFAULT_TUNING

log = logging.getLogger(__name__)

RATE_LIMIT_RETRIES = 3
# The longest Retry-After waited out in place, as for Twilio: a longer one leaves the post
# in the outbox for a later cycle (or the answer to the log) rather than stall everything.
MAX_RETRY_AFTER_SECONDS = 30
# Slack's ok=false errors (https://api.slack.com/methods/chat.postMessage#errors) that
# say Slack is busy or failing, whatever the HTTP status: the call may go later.
BUSY_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "message_limit_exceeded",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)
_TOKEN_FIX = (
    "Slack rejects SLACK_BOT_TOKEN ({error}): reinstall the app to the workspace and set "
    "SLACK_BOT_TOKEN to its new xoxb- token."
)
_SCOPE_FIX = (
    "The Slack app lacks a permission it needs ({error}): update it from manifest.yml "
    "(scopes commands, chat:write, chat:write.public) and reinstall it."
)
# Errors that no retry changes, only a person: what they should do. {channel} is the
# channel of the call; token and scope errors hold every channel.
SETUP_ERRORS = {
    "channel_not_found": (
        "Slack finds no channel {channel} that the bot can see: set SLACK_ALERT_CHANNEL to "
        "the channel's ID (C…, at the bottom of its details), and invite the bot to it "
        "first if it is private."
    ),
    "not_in_channel": (
        "The bot is not a member of channel {channel}: invite it (type /invite and the "
        "app's name in that channel)."
    ),
    "is_archived": (
        "Channel {channel} is archived: unarchive it, or set SLACK_ALERT_CHANNEL to another."
    ),
    "restricted_action": (
        "The workspace does not let apps post in channel {channel}: allow it, or set "
        "SLACK_ALERT_CHANNEL to another channel."
    ),
    "invalid_auth": _TOKEN_FIX,
    "not_authed": _TOKEN_FIX,
    "token_revoked": _TOKEN_FIX,
    "token_expired": _TOKEN_FIX,
    "account_inactive": _TOKEN_FIX,
    "not_allowed_token_type": _TOKEN_FIX,
    "missing_scope": _SCOPE_FIX,
    "no_permission": _SCOPE_FIX,
}
CHANNEL_ERRORS = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "restricted_action"}
)


# The alert channel's client logs here, never below INFO: slack_sdk's own logger follows
# the root's level, and at DEBUG it logs every request and answer body (issue 14, item 13).
_WEB_API_LOG = logging.getLogger(f"{__name__}.web_api")
_WEB_API_LOG.setLevel(logging.INFO)


def web_client(
    settings: Settings, timeout_seconds: int = DEFAULT_TUNING.slack_timeout_seconds
) -> AsyncWebClient:
    """A Web API client for the alert channel, apart from Bolt's."""
    return AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=timeout_seconds,
        retry_handlers=retry_handlers(),
        logger=_WEB_API_LOG,
    )


def retry_handlers() -> list[AsyncRetryHandler]:
    # slack_sdk's clients retry nothing by themselves. A 429 means Slack did not take the
    # post, so waiting out Retry-After and sending again is safe. A 5xx or a lost connection
    # may come after Slack posted it: those are left in the outbox for the next cycle
    # rather than resent at once, which keeps the window for a duplicate small.
    return [_CappedRateLimitHandler(max_retry_count=RATE_LIMIT_RETRIES)]


class _CappedRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, for a Retry-After of at most MAX_RETRY_AFTER_SECONDS
    whole seconds (it reads the header with int()); any other 429 is left to the caller."""

    async def _can_retry_async(self, **kwargs: Any) -> bool:
        response = kwargs.get("response")
        if not await super()._can_retry_async(**kwargs) or response is None:
            return False
        value = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), ["1"])
        try:
            return int(value[0]) <= MAX_RETRY_AFTER_SECONDS
        except (ValueError, TypeError, IndexError):
            return False


class Poster:
    """The watcher's way into a channel: post, reply in a thread, edit."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def post(
        self, channel: str, text: str, blocks: list[Any], thread_ts: str | None = None
    ) -> SlackMessage:
        """Where the new message is (Slack answers with the channel's ID, whatever name
        it was sent to)."""
        kwargs: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        response = await _web_call(self.client.chat_postMessage(**kwargs), channel)
        return SlackMessage(str(response["channel"]), str(response["ts"]))

    async def update(self, channel: str, ts: str, text: str, blocks: list[Any]) -> None:
        await _web_call(
            self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks), channel
        )

    async def permalink(self, channel: str, ts: str) -> str | None:
        """A link to a message, or None when Slack cannot say: a status still answers."""
        try:
            response = await _web_call(
                self.client.chat_getPermalink(channel=channel, message_ts=ts), channel
            )
        except SlackError as exc:
            log.info("no permalink for %s/%s: %s", channel, ts, exc)
            return None
        return str(response.get("permalink") or "") or None


async def _web_call(call: Awaitable[Any], channel: str | None = None) -> Any:
    try:
        return await call
    except SlackApiError as exc:
        if not hasattr(exc.response, "status_code"):
            # slack_sdk could not read the answer (cut short, not JSON): held like a 5xx.
            raise SlackUnavailable("Slack's answer could not be read") from exc
        status = exc.response.status_code
        data = exc.response.data
        if status == 429 or status >= 500:
            raise SlackUnavailable(f"Slack answered HTTP {status}") from exc
        # Only a JSON object with `ok: false` is Slack saying no. Anything else (an HTML
        # page from a proxy, a firewall or a maintenance screen; JSON without `ok`) is an
        # answer Slack did not write: an outage, held and tried again, never given up.
        if not (isinstance(data, dict) and data.get("ok") is False):
            raise SlackUnavailable(f"an answer Slack did not write (HTTP {status})") from exc
        error = str(data.get("error") or "")
        if error in BUSY_ERRORS:
            raise SlackUnavailable(f"Slack is busy ({error})") from exc
        if error in SETUP_ERRORS:
            fix = SETUP_ERRORS[error].format(error=error, channel=channel)
            held = channel if error in CHANNEL_ERRORS else None
            raise SlackMisconfigured(f"Slack refused: {error}", fix, held) from exc
        raise SlackRejected(f"Slack refused: {error or status}") from exc
    except (AttributeError, TypeError) as exc:
        # slack_sdk checks `ok` with `.get` on whatever came back: a text/plain body or a
        # JSON list fails in its hands, not ours.
        raise SlackUnavailable("an answer Slack did not write (not a JSON object)") from exc
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise SlackUnavailable(f"Slack did not answer ({type(exc).__name__})") from exc
