"""Twilio API: the only module that imports twilio. Calls, timeouts, retries, error mapping.

Built on twilio-python's `AsyncTwilioHttpClient` (one aiohttp session per process; close
it). Its client-level timeout is never applied (twilio-python #925) and it does not retry
429, so `_HttpClient.request` does both: every request is bounded by `asyncio.wait_for`,
and 429/5xx/timeouts/broken bodies are retried with backoff, honouring `Retry-After`.
TWILIO_API_URL replaces the `https://*.twilio.com` host of every URL, absolute next-page
URLs included. Results come back as plain values; failures as `bot.errors.TwilioError`.
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.errors import (
    CredentialsRejected,
    NotFound,
    TwilioError,
    TwilioRejected,
    TwilioUnavailable,
)
from bot.messages import Message
from bot.numbers import Lookup
from bot.privacy import mask_numbers_in
from bot.settings import Settings

log = logging.getLogger(__name__)

ATTEMPTS = 4
BACKOFF_SECONDS = 0.5
MAX_WAIT_SECONDS = 30.0  # the longest Retry-After we honour before giving up
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Account:
    sid: str
    status: str
    friendly_name: str


class TwilioApi:
    """One account's view of Twilio. Create it inside the running event loop; `close()` it."""

    def __init__(self, settings: Settings, sleep: Sleep = asyncio.sleep) -> None:
        self.account_sid = settings.twilio_account_sid
        self.http = _HttpClient(settings.twilio_api_url, settings.twilio_timeout_seconds, sleep)
        username, password = settings.twilio_credentials
        self.client = Client(
            username, password, account_sid=self.account_sid, http_client=self.http
        )

    async def close(self) -> None:
        await self.http.close()

    async def fetch_message(self, sid: str) -> Message:
        instance = await _call(
            self.client.messages(sid).fetch_async(),
            f"no message {sid} in account {self.account_sid}",
        )
        return _message(instance)

    async def list_messages(
        self,
        *,
        to: str | None = None,
        sent_after: datetime | None = None,
        created_after: datetime | None = None,
        page_size: int = 100,
        max_pages: int = 1,
    ) -> list[Message]:
        """Messages, newest first, at most `max_pages` pages: the walk never trusts the server
        to stop handing out next pages.

        `sent_after` filters on DateSent at Twilio, which leaves out messages never sent
        (a `failed` one has no date_sent). `created_after` has no filter at Twilio: the walk
        stops at the first page that reaches back past it, Twilio listing newest first.
        """
        kwargs: dict[str, Any] = {"page_size": page_size}
        if to is not None:
            kwargs["to"] = to
        if sent_after is not None:
            kwargs["date_sent_after"] = sent_after
        missing = f"no message list for account {self.account_sid}"
        page = await _call(self.client.messages.page_async(**kwargs), missing)
        found = [_message(m) for m in page]
        for _ in range(max_pages - 1):
            oldest = found[-1].date_created if found else None
            if created_after is not None and oldest is not None and oldest < created_after:
                break
            page = await _call(page.next_page_async(), missing)
            if page is None:
                break
            found += [_message(m) for m in page]
        return found

    async def fetch_account(self) -> Account:
        instance = await _call(
            self.client.api.v2010.accounts(self.account_sid).fetch_async(),
            f"no account {self.account_sid}",
        )
        return Account(
            sid=instance.sid or self.account_sid,
            status=str(instance.status or "unknown"),
            friendly_name=instance.friendly_name or "",
        )

    async def lookup(self, e164: str) -> Lookup:
        instance = await _call(
            self.client.lookups.v2.phone_numbers(e164).fetch_async(fields="line_type_intelligence"),
            "Lookup does not know this number",
        )
        line = instance.line_type_intelligence or {}
        return Lookup(
            phone_number=instance.phone_number or e164,
            valid=bool(instance.valid),
            validation_errors=tuple(instance.validation_errors or ()),
            national_format=instance.national_format,
            country_code=instance.country_code,
            line_type=line.get("type"),
            carrier_name=line.get("carrier_name"),
            mobile_country_code=line.get("mobile_country_code"),
            mobile_network_code=line.get("mobile_network_code"),
            line_type_error=int(line["error_code"]) if line.get("error_code") else None,
        )


async def _call(call: Awaitable[T], not_found: str) -> T:
    """Await a twilio-python call, turning its failures into ours."""
    try:
        return await call
    except TwilioError:
        raise
    except TwilioRestException as exc:
        raise _rest_error(exc, not_found) from exc
    except TwilioException as exc:
        # Raised while paging a list ("Unable to fetch page"), without code or status.
        raise TwilioUnavailable("Twilio failed while listing messages; try again shortly.") from exc
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise TwilioUnavailable("Twilio sent an answer that could not be read.") from exc


def signature_valid(auth_token: str, url: str, params: dict[str, str], signature: str) -> bool:
    """Whether a webhook request really comes from Twilio: X-Twilio-Signature is an HMAC
    of the full public URL and the form fields, keyed by the account's Auth Token."""
    return bool(signature) and bool(RequestValidator(auth_token).validate(url, params, signature))


def _rest_error(exc: TwilioRestException, not_found: str) -> TwilioError:
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


def _message(m: Any) -> Message:
    segments = m.num_segments
    return Message(
        sid=m.sid,
        status=str(m.status or "unknown"),
        to=m.to or "",
        from_=m.from_ or "",
        direction=str(m.direction or ""),
        error_code=int(m.error_code) if m.error_code else None,
        error_message=m.error_message,
        messaging_service_sid=m.messaging_service_sid,
        num_segments=int(segments) if segments and str(segments).isdigit() else None,
        price=m.price,
        price_unit=m.price_unit,
        date_created=m.date_created,
        date_sent=m.date_sent,
        date_updated=m.date_updated,
    )


class _HttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """twilio-python's aiohttp client with host rewriting, timeouts and retries."""

    def __init__(self, origin: str, timeout_seconds: float, sleep: Sleep) -> None:
        super().__init__(pool_connections=True, logger=log)
        self.origin = origin
        self.timeout_seconds = timeout_seconds
        self.sleep = sleep

    def rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if not self.origin or parts.scheme != "https":
            return url
        if host != "twilio.com" and not host.endswith(".twilio.com"):
            return url
        rest = url[len(f"{parts.scheme}://{parts.netloc}") :]
        return self.origin + rest

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        url = self.rewrite(url)
        kwargs["timeout"] = None  # our own bound below covers the whole exchange
        for attempt in range(1, ATTEMPTS + 1):
            wait = BACKOFF_SECONDS * 2 ** (attempt - 1)
            try:
                response: Response = await asyncio.wait_for(
                    super().request(method, url, *args, **kwargs), self.timeout_seconds
                )
            except (TimeoutError, aiohttp.ClientError) as exc:
                problem = f"no answer ({type(exc).__name__})"
                if attempt == ATTEMPTS:
                    raise TwilioUnavailable(
                        "Twilio did not answer in time; try again shortly."
                    ) from exc
            else:
                if response.status_code in RETRIED_STATUSES:
                    problem = f"HTTP {response.status_code}"
                    if (retry_after := _retry_after(response)) is not None:
                        wait = retry_after
                elif 200 <= response.status_code < 300 and not _is_json(response.text):
                    problem = "a body that is not JSON"
                else:
                    return response
                if attempt == ATTEMPTS or wait > MAX_WAIT_SECONDS:
                    return response  # twilio-python raises on it; `_call` maps that
            log.warning(
                "Twilio %s %s: %s; retry %d of %d in %.1fs",
                method,
                mask_numbers_in(urlsplit(url).path),
                problem,
                attempt,
                ATTEMPTS - 1,
                wait,
            )
            await self.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    # twilio-python logs every URL and query at INFO, phone numbers included: ours are
    # shorter, masked and at DEBUG.
    def log_request(self, kwargs: dict[str, Any]) -> None:
        log.debug("Twilio %s %s", kwargs["method"], mask_numbers_in(urlsplit(kwargs["url"]).path))

    def log_response(self, status_code: int, response: Any) -> None:
        log.debug("Twilio answered HTTP %s", status_code)


def _retry_after(response: Response) -> float | None:
    value = (response.headers or {}).get("Retry-After")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None  # an HTTP date; rare from Twilio, and backoff is a fine answer


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
