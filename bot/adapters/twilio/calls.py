"""Calls: a twilio-python call awaited, its failures turned into the bot's own
(`bot.errors`): 404 NotFound, 401 CredentialsRejected, 429 and 5xx TwilioUnavailable,
any other refusal TwilioRejected with Twilio's code."""

import json
from collections.abc import Awaitable
from typing import TypeVar

from twilio.base.exceptions import TwilioException, TwilioRestException

from bot.errors import (
    CredentialsRejected,
    NotFound,
    TwilioError,
    TwilioRejected,
    TwilioUnavailable,
)

T = TypeVar("T")


async def call(pending: Awaitable[T], not_found: str) -> T:
    """Await a twilio-python call, turning its failures into ours."""
    try:
        return await pending
    except TwilioError:
        raise
    except TwilioRestException as exc:
        raise rest_error(exc, not_found) from exc
    except TwilioException as exc:
        # Raised while paging a list ("Unable to fetch page"), with Twilio's response as
        # its second argument: its status says what the refusal was.
        response = exc.args[1] if len(exc.args) > 1 else None
        status = getattr(response, "status_code", None)
        if isinstance(status, int) and status != 200:
            raise rest_error(
                TwilioRestException(status, "", "", _code_of(response)), not_found
            ) from exc
        raise TwilioUnavailable("Twilio failed while listing; try again shortly.") from exc
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise TwilioUnavailable("Twilio sent an answer that could not be read.") from exc


def _code_of(response: object) -> int | None:
    """Twilio's error code in a refusal's JSON body, if it has one."""
    try:
        code = json.loads(str(getattr(response, "text", ""))).get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def rest_error(exc: TwilioRestException, not_found: str) -> TwilioError:
    status, code = exc.status, exc.code
    if status == 404 or code == 20404:
        return NotFound(not_found)
    if status == 401 or code == 20003:
        return CredentialsRejected(
            "Twilio rejected the bot's credentials (error 20003). Check TWILIO_ACCOUNT_SID "
            "and the API key or Auth Token."
        )
    if status == 429 or code == 20429:
        return TwilioUnavailable(
            "Twilio is rate limiting the bot right now; try again in a minute."
        )
    if status >= 500:
        return TwilioUnavailable(
            f"Twilio had an internal error (HTTP {status}); try again shortly."
        )
    return TwilioRejected(f"Twilio refused the request (error {code}).", code)
