"""Service: the `Context` command handlers ask, backed by knowledge, the store and Twilio.

The one place that decides which calls one answer needs and runs them concurrently.
"""

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from bot import knowledge, messages
from bot.errors import TwilioError
from bot.knowledge import Entry, Explanation
from bot.messages import Message, MessageReport
from bot.store import Store
from bot.twilio_api import TwilioApi

log = logging.getLogger(__name__)

ACCOUNT_WINDOW = timedelta(hours=1)
ACCOUNT_SAMPLE = 1000  # one page of the Messages list, Twilio's largest
HISTORY_PAGE = 50


class Service:
    def __init__(
        self,
        curated: Mapping[int, Entry],
        store: Store | None,
        twilio: TwilioApi | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.curated = curated
        self.store = store
        self.twilio = twilio
        self.clock = clock

    def explain(self, code: int) -> Explanation:
        imported = None
        if code not in self.curated and self.store is not None:
            imported = self.store.imported_entry(code)
        return knowledge.explain(code, self.curated, imported)

    async def explain_message(self, sid: str) -> MessageReport:
        """The message, its error explained, and the context around it.

        The fetch and the account's last hour are asked for together; the recipient's
        history needs the recipient, so it follows. A failed context call leaves that
        part of the report out rather than failing the answer.
        """
        if self.twilio is None or self.store is None:
            raise TwilioError(
                "Twilio is not configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN "
                "(or TWILIO_API_KEY and TWILIO_API_SECRET)."
            )
        now = self.clock()
        since = now - ACCOUNT_WINDOW
        fetched, sample = await asyncio.gather(
            self.twilio.fetch_message(sid),
            self.twilio.list_messages(sent_after=since, page_size=ACCOUNT_SAMPLE),
            return_exceptions=True,
        )
        if isinstance(fetched, BaseException):
            raise fetched
        account_sample: list[Message] | None = None
        if isinstance(sample, BaseException):
            if not isinstance(sample, TwilioError):
                raise sample  # a bug, not a Twilio fault: let it be logged with its traceback
            log.warning("account sample for %s unavailable: %s", sid, sample)
        else:
            account_sample = sample
        recent: list[Message] = list(account_sample or [])
        try:
            recent += await self.twilio.list_messages(
                to=fetched.to, sent_after=now - messages.STREAK_WINDOW, page_size=HISTORY_PAGE
            )
        except TwilioError as exc:
            # The store may still hold some history; the message itself is what was asked.
            log.warning("recipient history for %s unavailable: %s", sid, exc)
        self.store.save_messages([fetched, *recent])
        history = self.store.messages_to(fetched.to, now - messages.STREAK_WINDOW)
        code = fetched.error_code
        return messages.build_report(
            fetched,
            self.explain(code) if code is not None else None,
            history,
            account_sample,
            ACCOUNT_SAMPLE,
            since,
            now,
        )
