"""Accounts in the simulator: an account's record, and the Accounts list, which gives the
calling account and its subaccounts (paged, as Twilio's 2010 API pages), in the shapes
twilio-python reads. A parent's credentials reach its subaccounts' resources (see
`Simulator._authenticate`)."""

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.simulation import wire
from bot.simulation.scenario import Scenario, SimAccount

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50
CREATED = datetime(2020, 1, 1, tzinfo=UTC)


def account_json(account: SimAccount) -> dict[str, Any]:
    return {
        "sid": account.sid,
        "friendly_name": account.friendly_name,
        "status": account.status,
        "type": "Full",
        "owner_account_sid": account.owner_sid or account.sid,
        "date_created": wire.rfc2822(CREATED),
        "date_updated": wire.rfc2822(CREATED),
        "uri": f"/2010-04-01/Accounts/{account.sid}.json",
    }


class AccountsApi:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/2010-04-01/Accounts.json", self._list)
        app.router.add_get("/2010-04-01/Accounts/{account}.json", self._account)

    async def _account(self, request: web.Request) -> web.Response:
        account = self.scenario.accounts.get(request.match_info["account"])
        if account is None:
            return wire.error(404, 20404, "The requested resource was not found")
        return web.json_response(account_json(account))

    async def _list(self, request: web.Request) -> web.Response:
        caller = wire.account_of(self.scenario, request)
        found = [
            a
            for a in self.scenario.accounts.values()
            if a.sid == caller or (a.owner_sid == caller and caller)
        ]
        query = request.query
        try:
            size = min(int(query.get("PageSize", DEFAULT_PAGE_SIZE)), MAX_PAGE_SIZE)
            page = int(query.get("Page", 0))
        except ValueError:
            return wire.error(400, 20001, "PageSize and Page must be numbers")
        if size < 1 or page < 0:
            return wire.error(400, 20001, "PageSize must be positive")
        start = page * size
        items = found[start : start + size]
        uri = request.path

        def at(number: int) -> str:
            return uri + "?" + urlencode({"PageSize": str(size), "Page": str(number)})

        more = start + size < len(found)
        return web.json_response(
            {
                "accounts": [account_json(a) for a in items],
                "page": page,
                "page_size": size,
                "start": start,
                "end": start + len(items) - 1,
                "uri": at(page),
                "first_page_uri": at(0),
                "next_page_uri": at(page + 1) if more else None,
                "previous_page_uri": at(page - 1) if page else None,
            }
        )
