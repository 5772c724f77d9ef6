"""Accounts: the subaccounts of the account the bot's credentials belong to, read from
Twilio's Accounts list (2010 API, paged; it gives the calling account and its
subaccounts) through twilio-python, as plain `Account` values."""

from bot.adapters.twilio.api import Account, TwilioApi
from bot.adapters.twilio.calls import call

PAGE_SIZE = 1000  # Twilio's largest page: one request for up to a thousand subaccounts
LIMIT = 20_000  # never more than this many read, whatever the pages say


async def subaccounts(twilio: TwilioApi) -> list[Account]:
    """Every subaccount of `twilio`'s account, closed ones included (the caller decides),
    in Twilio's order."""
    found = await call(
        twilio.client.api.v2010.accounts.list_async(page_size=PAGE_SIZE, limit=LIMIT),
        "no account list",
    )
    return [
        Account(
            sid=a.sid or "", status=str(a.status or "unknown"), friendly_name=a.friendly_name or ""
        )
        for a in found
        if a.sid and a.sid != twilio.account_sid
    ]
