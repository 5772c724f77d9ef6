"""Finding: which account's view of Twilio holds a message, for `why SM…`. The account
the credentials name, unless the store says a subaccount sent it; with subaccounts
watched (WATCH_SUBACCOUNTS), a message the account does not have is looked for in each
watched subaccount, a few at a time."""

import asyncio
from collections.abc import Sequence

from bot.adapters.twilio import TwilioApi
from bot.adapters.twilio.accounts import subaccounts as every
from bot.domain import subaccounts
from bot.domain.messages import Message
from bot.domain.subaccounts import Choice, Subaccount
from bot.errors import NotFound, TwilioError
from bot.store import Store
from bot.watcher.subaccounts import STATE, decoded

AT_ONCE = 8  # subaccounts asked at the same time


async def fetch(
    twilio: TwilioApi,
    store: Store,
    sid: str,
    known: Sequence[Message],
    chosen: Choice,
) -> tuple[Message, TwilioApi]:
    """The message and the view of Twilio it was found in."""
    owner = known[0].account_sid if known else None
    if owner and owner != twilio.account_sid:
        view = twilio.for_account(owner)
        return await view.fetch_message(sid), view
    try:
        return await twilio.fetch_message(sid), twilio
    except NotFound:
        if not chosen:
            raise
        watched = await _every(twilio, store) if chosen.every else sorted(chosen.sids)
        found, failed = await _first(twilio, sid, watched)
        if found is None:
            unasked = f"; Twilio failed for {failed} of them, ask again" if failed else ""
            raise NotFound(
                f"no message {sid} in account {twilio.account_sid} "
                f"nor in its {len(watched)} watched subaccount(s){unasked}"
            ) from None
        return found


async def _every(twilio: TwilioApi, store: Store) -> list[str]:
    """Every subaccount not closed: as Twilio lists them now (a new one included), else
    as the watcher last listed them."""
    try:
        listed = [Subaccount(a.sid, a.friendly_name, a.status.lower()) for a in await every(twilio)]
    except TwilioError:
        listed = list(decoded(await store.watcher.get(STATE)).values())
    return [s.sid for s in subaccounts.watched(listed, Choice(every=True))]


async def _first(
    twilio: TwilioApi, sid: str, accounts: list[str]
) -> tuple[tuple[Message, TwilioApi] | None, int]:
    """The message from the first of `accounts` that has it (None when none does), and
    how many of those asked Twilio failed for (not "not found")."""
    gate = asyncio.Semaphore(AT_ONCE)
    failed = 0

    async def one(account: str) -> tuple[Message, TwilioApi] | None:
        nonlocal failed
        view = twilio.for_account(account)
        async with gate:
            try:
                return await view.fetch_message(sid), view
            except NotFound:
                return None
            except TwilioError:
                failed += 1
                return None

    tasks = [asyncio.ensure_future(one(account)) for account in accounts]
    try:
        for done in asyncio.as_completed(tasks):
            if (found := await done) is not None:
                return found, failed
        return None, failed
    finally:
        for task in tasks:
            task.cancel()
