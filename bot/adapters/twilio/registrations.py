"""Registrations: the account's A2P 10DLC brands, its Messaging Services' US A2P
campaigns and its toll-free verifications, read through twilio-python's `messaging.v1`
(on the TwilioApi's client) into `domain.registrations` values.

An account that has none of one kind, or cannot use that API, gives an empty list for it
(Twilio answers 404 or refuses, 401 included: an API key may be denied one product), and
a Messaging Service whose campaigns Twilio will not list is left out: the rest is still
read. Twilio unavailable (429, 5xx, timeouts) fails the read, to be tried again.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.adapters.twilio.api import TwilioApi
from bot.adapters.twilio.calls import call
from bot.domain.registrations import Kind, Registration
from bot.errors import CredentialsRejected, NotFound, TwilioRejected

log = logging.getLogger(__name__)

LIST_LIMIT = 1000  # registrations of one kind; services whose campaigns are read
CONCURRENT = 8  # services whose campaigns are asked for at once
REFUSED = (NotFound, TwilioRejected, CredentialsRejected)


class TwilioRegistrations:
    def __init__(self, twilio: TwilioApi) -> None:
        self.messaging = twilio.client.messaging.v1

    async def all(self) -> list[Registration]:
        return [
            *await self._kind("brands", self._brands),
            *await self._kind("campaigns", self._campaigns),
            *await self._kind("toll-free verifications", self._toll_free),
        ]

    async def _kind(
        self, what: str, read: Callable[[], Awaitable[list[Registration]]]
    ) -> list[Registration]:
        try:
            return await read()
        except REFUSED as exc:
            log.info("no %s read: %s", what, exc)
            return []

    async def _brands(self) -> list[Registration]:
        found = await call(
            self.messaging.brand_registrations.list_async(limit=LIST_LIMIT), "no brands"
        )
        return [
            Registration(
                Kind.BRAND,
                b.sid or "",
                str(b.status or ""),
                about=f"{b.brand_type or ''} brand".strip(),
                reason=_reason(b.failure_reason, b.errors),
            )
            for b in found
        ]

    async def _campaigns(self) -> list[Registration]:
        services = await call(self.messaging.services.list_async(limit=LIST_LIMIT), "no services")
        if len(services) >= LIST_LIMIT:
            log.warning("only the first %d Messaging Services' campaigns are read", LIST_LIMIT)
        # A request a service: a few at once, so hundreds of services take seconds.
        limit = asyncio.Semaphore(CONCURRENT)

        async def of(service: Any) -> list[Registration]:
            async with limit:
                try:
                    campaigns = await call(
                        self.messaging.services(service.sid).us_app_to_person.list_async(
                            limit=LIST_LIMIT
                        ),
                        f"no campaigns for {service.sid}",
                    )
                except REFUSED as exc:  # gone since it was listed, or not ours to read
                    log.info("no campaigns read for %s: %s", service.sid, exc)
                    return []
            named = service.friendly_name or service.sid or ""
            return [
                Registration(
                    Kind.CAMPAIGN,
                    c.sid or "",
                    str(c.campaign_status or ""),
                    about=f"{c.us_app_to_person_usecase or 'campaign'} of {named}",
                    reason=_reason(None, c.errors),
                )
                for c in campaigns
            ]

        return [r for found in await asyncio.gather(*map(of, services)) for r in found]

    async def _toll_free(self) -> list[Registration]:
        found = await call(
            self.messaging.tollfree_verifications.list_async(limit=LIST_LIMIT),
            "no toll-free verifications",
        )
        return [
            Registration(
                Kind.TOLL_FREE,
                v.sid or "",
                str(v.status or ""),
                about=v.tollfree_phone_number or v.business_name or "",
                reason=_reason(v.rejection_reason, v.rejection_reasons),
            )
            for v in found
        ]


def _reason(text: str | None, details: Any) -> str:
    """Twilio's reason: its text, and each detail's description (or code) not already in it."""
    parts = [text.strip()] if isinstance(text, str) and text.strip() else []
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        said = detail.get("description") or detail.get("reason") or detail.get("message")
        code = detail.get("code") or detail.get("error_code")
        line = " ".join(str(x) for x in (code, said) if x)
        if line and not any(line in p or (said and str(said) in p) for p in parts):
            parts.append(line)
    return "; ".join(parts)
