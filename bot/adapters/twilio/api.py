"""TwilioApi: one account's view of Twilio, in plain values. Fetches, lists and lookups
through twilio-python's async client (over `http.HttpClient`); its failures as ours."""

import asyncio
import copy
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from twilio.base import serialize
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from bot.adapters.twilio.calls import call, rest_error
from bot.adapters.twilio.http import HttpClient, Sleep
from bot.adapters.twilio.records import message_from_json, message_from_resource
from bot.answers.phone_numbers import Lookup
from bot.domain.messages import Message
from bot.errors import (
    TwilioUnavailable,
)
from bot.settings import Settings
from bot.tuning import DEFAULT_TUNING

log = logging.getLogger(__name__)

PREFETCH_YIELDS = 3  # loop turns for a next-page request to reach the socket
T = TypeVar("T")


@dataclass(frozen=True)
class Walk:
    """How a walk of the Messages list ended: how many pages it read; the next page's URI
    when it stopped at `max_pages` with older messages left; and whether it read all
    there was back to `created_after`: it reached it, or the list ended. An empty page
    with no next after others (or first, going on from `resume`) is not taken for the
    list's end: Twilio does not say what happened to the rest."""

    pages: int
    rest: str | None
    whole: bool


@dataclass(frozen=True)
class Account:
    sid: str
    status: str
    friendly_name: str


class TwilioApi:
    """One account's view of Twilio. Its session opens with the first request; `close()` it."""

    def __init__(
        self,
        settings: Settings,
        sleep: Sleep = asyncio.sleep,
        backoff_seconds: float = DEFAULT_TUNING.twilio_backoff_seconds,
    ) -> None:
        self.account_sid = settings.twilio_account_sid
        self.http = HttpClient(
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

    def for_account(self, account_sid: str) -> "TwilioApi":
        """This one's credentials and connection, reading `account_sid`'s resources (a
        subaccount: Twilio takes the parent's credentials there). Not closed on its own:
        closing this one closes both."""
        view = copy.copy(self)
        view.account_sid = account_sid
        view.client = Client(
            self.client.username,
            self.client.password,
            account_sid=account_sid,
            http_client=self.http,
        )
        return view

    async def fetch_message(self, sid: str) -> Message:
        instance = await call(
            self.client.messages(sid).fetch_async(),
            f"no message {sid} in account {self.account_sid}",
        )
        return message_from_resource(instance)

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
        resume: str | None = None,
    ) -> Walk:
        """Walk the Messages list newest first, handing each page to `on_page` while the
        next one is already on its way; or, given `resume` (a Walk's `rest`), go on from
        where an earlier walk stopped, with that walk's filters.

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
        if resume is not None:
            # Twilio's next-page URIs hold a token naming the last message read, not an
            # offset, so they stay good while new messages arrive at the list's head.
            fetching = start(self._messages_page(api.absolute_url(resume), None))
        else:
            fetching = start(self._messages_page(url, params))
        pages = 0
        rest = None
        whole = False
        try:
            while fetching is not None:
                found, next_uri = await fetching
                pages += 1
                oldest = found[-1].date_created if found else None
                reached = (
                    created_after is not None and oldest is not None and oldest < created_after
                )
                fetching = None
                if reached:
                    whole = True
                elif not next_uri:
                    whole = bool(found) or (pages == 1 and resume is None)  # an empty list
                elif pages >= max_pages:
                    rest = next_uri
                else:
                    fetching = start(self._messages_page(api.absolute_url(next_uri), None))
                    # Let the request go out before `on_page` holds the loop with its work.
                    for _ in range(PREFETCH_YIELDS):
                        await asyncio.sleep(0)
                await on_page(found)
        finally:
            if fetching is not None:
                fetching.cancel()
        return Walk(pages, rest, whole)

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
            raise rest_error(problem, missing)
        try:
            found = [message_from_json(record) for record in payload["messages"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise TwilioUnavailable("Twilio sent an answer that could not be read.") from exc
        return found, payload.get("next_page_uri") or None

    async def fetch_account(self) -> Account:
        instance = await call(
            self.client.api.v2010.accounts(self.account_sid).fetch_async(),
            f"no account {self.account_sid}",
        )
        return Account(
            sid=instance.sid or self.account_sid,
            status=str(instance.status or "unknown"),
            friendly_name=instance.friendly_name or "",
        )

    async def lookup(self, e164: str) -> Lookup:
        instance = await call(
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


def start(call: Awaitable[T]) -> "asyncio.Future[T]":
    """A call running on its own; its outcome is read even if nobody awaits it, so a
    walk that stops early leaves asyncio nothing to complain about."""
    task = asyncio.ensure_future(call)
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    return task
