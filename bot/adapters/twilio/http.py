"""HttpClient: twilio-python's aiohttp client with host rewriting, a bound on every
request, and retries of 429/5xx/timeouts/broken bodies with backoff, honouring
Retry-After (twilio-python applies neither its own timeout, #925, nor retries 429)."""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response

from bot.domain.privacy import mask_numbers_in
from bot.errors import TwilioUnavailable

log = logging.getLogger(__name__)

ATTEMPTS = 4
MAX_WAIT_SECONDS = 30.0  # the longest Retry-After we honour before giving up
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
Sleep = Callable[[float], Awaitable[None]]


class HttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """twilio-python's aiohttp client with host rewriting, timeouts and retries."""

    def __init__(
        self, origin: str, timeout_seconds: float, backoff_seconds: float, sleep: Sleep
    ) -> None:
        # No session yet: it opens with the first request, inside the event loop, and
        # serves every request after (aiohttp wants a session made in its loop).
        super().__init__(pool_connections=False, logger=log)
        self.session: aiohttp.ClientSession | None = None
        self.origin = origin
        self.timeout_seconds = timeout_seconds
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep
        # Since the start: answers that were 429/5xx/timeouts/unreadable, and requests
        # given up on after all attempts. Health and `/twilio status` show them.
        self.faults = 0
        self.gave_up = 0

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

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
        if self.session is None:
            self.session = aiohttp.ClientSession()
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
                elif response.status_code == 204:
                    return response  # a delete's answer: no body at all
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
