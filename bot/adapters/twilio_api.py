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
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from twilio.base import deserialize, serialize
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.answers.phone_numbers import Lookup
from bot.domain.messages import Message
from bot.domain.privacy import mask_numbers_in
from bot.errors import (
    CredentialsRejected,
    NotFound,
    TwilioError,
    TwilioRejected,
    TwilioUnavailable,
)
from bot.settings import Settings
from bot.tuning import DEFAULT_TUNING

log = logging.getLogger(__name__)

ATTEMPTS = 4
MAX_WAIT_SECONDS = 30.0  # the longest Retry-After we honour before giving up
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
PREFETCH_YIELDS = 3  # loop turns for a next-page request to reach the socket
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Account:
    sid: str
    status: str
    friendly_name: str


class TwilioApi:
    """One account's view of Twilio. Create it inside the running event loop; `close()` it."""

    def __init__(
        self,
        settings: Settings,
        sleep: Sleep = asyncio.sleep,
        backoff_seconds: float = DEFAULT_TUNING.twilio_backoff_seconds,
    ) -> None:
        self.account_sid = settings.twilio_account_sid
        self.http = _HttpClient(
            settings.twilio_api_url, settings.twilio_timeout_seconds, backoff_seconds, sleep
        )
        username, password = settings.twilio_credentials
        self.client = Client(
            username, password, account_sid=self.account_sid, http_client=self.http
        )
        # twilio-python imports its REST tree on first use: about a hundred modules, 50 to
        # 300 ms that would otherwise hold the loop (every ack with it) in the first
        # command after a start (bench/commands.py). Here, it is paid before serving.
        self.client.api.v2010.account  # noqa: B018
        self.client.lookups.v2  # noqa: B018

    async def close(self) -> None:
        await self.http.close()

    async def fetch_message(self, sid: str) -> Message:
        instance = await _call(
            self.client.messages(sid).fetch_async(),
            f"no message {sid} in account {self.account_sid}",
        )
        return _message_from_resource(instance)

    async def list_messages(
        self,
        *,
        to: str | None = None,
        sent_after: datetime | None = None,
        created_after: datetime | None = None,
        page_size: int = 100,
        max_pages: int = 1,
    ) -> list[Message]:
        """Messages, newest first, at most `max_pages` pages (see `read_messages`)."""
        found: list[Message] = []

        async def collect(page: list[Message]) -> None:
            found.extend(page)

        await self.read_messages(
            collect,
            to=to,
            sent_after=sent_after,
            created_after=created_after,
            page_size=page_size,
            max_pages=max_pages,
        )
        return found

    async def read_messages(
        self,
        on_page: Callable[[list[Message]], Awaitable[None]],
        *,
        to: str | None = None,
        sent_after: datetime | None = None,
        created_after: datetime | None = None,
        page_size: int = 100,
        max_pages: int = 1,
    ) -> int:
        """Walk the Messages list newest first, handing each page to `on_page` while the
        next one is already on its way. Returns the number of pages read.

        At most `max_pages` pages: the walk never trusts the server to stop handing out
        next pages. `sent_after` filters on DateSent at Twilio, which leaves out messages
        never sent (a `failed` one has no date_sent). `created_after` has no filter at
        Twilio: the walk stops at the first page that reaches back past it.

        Pages are read through the client's `request_async` and parsed here rather than
        through `page_async`: building twilio-python's MessageInstance costs about 65 µs
        a message (three dates through `email.utils`), the largest part of an ingest
        (bench/ingest.py).
        """
        params: dict[str, object] = {"PageSize": page_size}
        if to is not None:
            params["To"] = to
        if sent_after is not None:
            params["DateSent>"] = serialize.iso8601_datetime(sent_after)
        api = self.client.api
        url = f"{api.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        fetching: asyncio.Future[tuple[list[Message], str | None]] | None
        fetching = _start(self._messages_page(url, params))
        pages = 0
        try:
            while fetching is not None:
                found, next_uri = await fetching
                pages += 1
                oldest = found[-1].date_created if found else None
                reached = (
                    created_after is not None and oldest is not None and oldest < created_after
                )
                fetching = None
                if next_uri and not reached and pages < max_pages:
                    fetching = _start(self._messages_page(api.absolute_url(next_uri), None))
                    # Let the request go out before `on_page` holds the loop with its work.
                    for _ in range(PREFETCH_YIELDS):
                        await asyncio.sleep(0)
                await on_page(found)
        finally:
            if fetching is not None:
                fetching.cancel()
        return pages

    async def _messages_page(
        self, url: str, params: dict[str, object] | None
    ) -> tuple[list[Message], str | None]:
        missing = f"no message list for account {self.account_sid}"
        response = await self.client.request_async("GET", url, params=params)
        payload = getattr(response, "payload", None)
        if payload is None:
            try:
                payload = json.loads(response.text)
            except ValueError as exc:
                raise TwilioUnavailable("Twilio sent an answer that could not be read.") from exc
        if not 200 <= response.status_code < 300:
            body = payload if isinstance(payload, dict) else {}
            problem = TwilioRestException(
                response.status_code, url, str(body.get("message", "")), body.get("code")
            )
            raise _rest_error(problem, missing)
        try:
            found = [_message_from_json(record) for record in payload["messages"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise TwilioUnavailable("Twilio sent an answer that could not be read.") from exc
        return found, payload.get("next_page_uri") or None

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


def _message_from_json(record: dict[str, Any]) -> Message:
    """A message from one record of a Messages list page, as `_message` reads an instance."""
    segments = record.get("num_segments")
    code = record.get("error_code")
    return Message(
        sid=record["sid"],
        status=str(record.get("status") or "unknown"),
        to=record.get("to") or "",
        from_=record.get("from") or "",
        direction=str(record.get("direction") or ""),
        error_code=int(code) if code else None,
        error_message=record.get("error_message"),
        messaging_service_sid=record.get("messaging_service_sid"),
        num_segments=int(segments) if segments and str(segments).isdigit() else None,
        price=record.get("price"),
        price_unit=record.get("price_unit"),
        date_created=_rfc2822(record.get("date_created")),
        date_sent=_rfc2822(record.get("date_sent")),
        date_updated=_rfc2822(record.get("date_updated")),
    )


_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def _rfc2822(text: str | None) -> datetime | None:
    """Twilio's dates ("Mon, 23 Nov 2026 10:00:00 +0000"), read directly when they are
    in that form (a tenth of the time `email.utils` takes), else as twilio-python would."""
    if not text:
        return None
    parts = text.split()
    if len(parts) == 6 and parts[5] == "+0000" and parts[2] in _MONTHS:
        try:
            hour, minute, second = parts[4].split(":")
            return datetime(
                int(parts[3]),
                _MONTHS[parts[2]],
                int(parts[1]),
                int(hour),
                int(minute),
                int(second),
                tzinfo=UTC,
            )
        except ValueError:
            pass
    moment = deserialize.rfc2822_datetime(text)
    return moment if isinstance(moment, datetime) else None


def _start(call: Awaitable[T]) -> "asyncio.Future[T]":
    """A call running on its own; its outcome is read even if nobody awaits it, so a
    walk that stops early leaves asyncio nothing to complain about."""
    task = asyncio.ensure_future(call)
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    return task


def _message_from_resource(m: Any) -> Message:
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

    def __init__(
        self, origin: str, timeout_seconds: float, backoff_seconds: float, sleep: Sleep
    ) -> None:
        super().__init__(pool_connections=True, logger=log)
        self.origin = origin
        self.timeout_seconds = timeout_seconds
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep
        # Since the start: answers that were 429/5xx/timeouts/unreadable, and requests
        # given up on after all attempts. Health and `/twilio status` show them.
        self.faults = 0
        self.gave_up = 0

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
            wait = self.backoff_seconds * 2 ** (attempt - 1)
            try:
                response: Response = await asyncio.wait_for(
                    super().request(method, url, *args, **kwargs), self.timeout_seconds
                )
            except (TimeoutError, aiohttp.ClientError) as exc:
                problem = f"no answer ({type(exc).__name__})"
                self.faults += 1
                if attempt == ATTEMPTS:
                    self.gave_up += 1
                    raise TwilioUnavailable(
                        "Twilio did not answer in time; try again shortly."
                    ) from exc
            else:
                if response.status_code in RETRIED_STATUSES:
                    problem = f"HTTP {response.status_code}"
                    if (retry_after := _retry_after(response)) is not None:
                        wait = retry_after
                elif 200 <= response.status_code < 300 and (parsed := _json(response)) is None:
                    problem = "a body that is not JSON"
                elif 200 <= response.status_code < 300 and (shape := _shape_problem(url, parsed)):
                    problem = shape
                    if attempt == ATTEMPTS:
                        self.faults += 1
                        self.gave_up += 1
                        raise TwilioUnavailable(
                            "Twilio sent an answer of the wrong shape; try again shortly."
                        )
                else:
                    if 200 <= response.status_code < 300:
                        return _ParsedResponse(response, parsed)
                    return response
                self.faults += 1
                if attempt == ATTEMPTS or wait > MAX_WAIT_SECONDS:
                    self.gave_up += 1
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


def _shape_problem(url: str, payload: Any) -> str:
    """What is wrong with the shape of a 2xx answer, or "". Every resource the bot reads
    is a JSON object; a Lookup must at least say what number it read and whether it is
    valid, or a page of nulls would be shown, and cached, as "not a valid number"."""
    if not isinstance(payload, dict):
        return "an answer that is not a JSON object"
    if "/v2/PhoneNumbers/" in url and not (
        isinstance(payload.get("valid"), bool) and isinstance(payload.get("phone_number"), str)
    ):
        return "a Lookup answer without its fields"
    return ""


def _retry_after(response: Response) -> float | None:
    value = (response.headers or {}).get("Retry-After")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None  # an HTTP date; rare from Twilio, and backoff is a fine answer


class _ParsedResponse(Response):  # type: ignore[misc]
    """A response whose body has been parsed once already, for callers that want it."""

    def __init__(self, response: Response, payload: Any) -> None:
        super().__init__(response.status_code, response.text, response.headers)
        self.payload = payload


def _json(response: Response) -> Any:
    """The body parsed, or None when it is not JSON (truncated, an HTML error page)."""
    try:
        return json.loads(response.text)
    except ValueError:
        return None
