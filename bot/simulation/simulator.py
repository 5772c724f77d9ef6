"""Simulator: a small Twilio that speaks the parts of the REST API the bot calls.

An aiohttp app (run it on 127.0.0.1, port 0) serving Accounts fetch, Messages fetch and
list (v2010 shapes, RFC 2822 dates, `To`/`From`/`DateSent` filters, newest first, paged
through `next_page_uri`), Lookup v2 with line type intelligence, and Event Streams'
Sinks and Subscriptions with their pushes (`event_streams`), behind Basic auth.
Data comes from a `Scenario` (bot/simulation/scenario.py) built in code; faults (429 with
Retry-After, 5xx, slow or truncated answers) are scripted with `inject`, or drawn at
random for a share of all requests with `fail_at_random`. Tests, the demo and the
benchmarks use it through the real twilio-python client pointed here by TWILIO_API_URL.
"""

import asyncio
import random
from collections import Counter
from typing import Any
from urllib.parse import urlencode

import phonenumbers
from aiohttp import web

from bot.simulation import wire
from bot.simulation.accounts_api import AccountsApi
from bot.simulation.event_streams import EventStreams
from bot.simulation.events_api import EventsApi
from bot.simulation.faults import RANDOM_FAULTS, Fault, Received
from bot.simulation.listing import Listing
from bot.simulation.registrations import RegistrationsApi
from bot.simulation.scenario import Scenario, SimMessage, SimNumber

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50


class Simulator:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.faults: list[Fault] = []
        self.received: list[Received] = []
        self.latency_seconds = 0.0
        self.origin = ""  # set by whoever serves the app: "http://127.0.0.1:<port>"
        self._listing = Listing()
        self._as_json: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}
        self._random: tuple[float, random.Random, float] | None = None
        self.faulted: Counter[str] = Counter()  # random faults served, by kind
        self.event_streams = EventStreams(scenario)

    def inject(self, fault: Fault) -> None:
        self.faults.append(fault)

    def fail_at_random(self, share: float, seed: int, hang_seconds: float) -> None:
        """From now on, fail `share` of requests, each in one of RANDOM_FAULTS' ways
        (drawn from `seed`, so a run can be repeated); a hang lasts `hang_seconds`."""
        self._random = (share, random.Random(seed), hang_seconds)

    def _random_fault(self) -> Fault | None:
        if self._random is None:
            return None
        share, rng, hang = self._random
        if rng.random() >= share:
            return None
        kind = rng.choice(RANDOM_FAULTS)
        self.faulted[kind] += 1
        return {
            "429": Fault(status=429, retry_after=0.01),
            "500": Fault(status=500),
            "503": Fault(status=503),
            "hang": Fault(status=0, delay_seconds=hang),
            "truncated": Fault(status=0, truncate=True),
        }[kind]

    def count(self, path_contains: str) -> int:
        return sum(1 for r in self.received if path_contains in r.path)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._faults_middleware])
        base = "/2010-04-01/Accounts/{account}"
        AccountsApi(self.scenario).routes(app)
        app.router.add_get(base + "/Messages.json", self._messages)
        app.router.add_get(base + "/Messages/{sid}.json", self._message)
        app.router.add_get("/v2/PhoneNumbers/{number}", self._lookup)
        EventsApi(self.event_streams).routes(app)
        RegistrationsApi(self.scenario).routes(app)
        return app

    # -- faults and auth ---------------------------------------------------------------

    @web.middleware
    async def _faults_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.received.append(Received(request.method, request.path, dict(request.query)))
        if self.latency_seconds:
            await asyncio.sleep(self.latency_seconds)
        fault = self._take_fault(request.path_qs, request.method) or self._random_fault()
        if fault and fault.delay_seconds:
            await asyncio.sleep(fault.delay_seconds)
        if fault and fault.status:
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            code = 20429 if fault.status == 429 else 20500
            return wire.error(fault.status, code, "Simulated fault", headers)
        if (failure := self._authenticate(request)) is not None:
            return failure
        if fault and fault.body:
            return web.Response(text=fault.body, content_type="application/json")
        response: web.StreamResponse = await handler(request)
        if fault and fault.truncate and isinstance(response, web.Response) and response.body:
            body = bytes(response.body)  # type: ignore[arg-type]
            return web.Response(
                body=body[: len(body) // 2], status=response.status, content_type="application/json"
            )
        return response

    def _take_fault(self, path: str, method: str = "") -> Fault | None:
        for fault in self.faults:
            if fault.method and fault.method != method:
                continue
            if fault.path_contains in path and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    def _authenticate(self, request: web.Request) -> web.Response | None:
        """Basic auth with an Account SID and Auth Token, or an API key and its secret."""
        user, password = wire.basic_auth(request.headers.get("Authorization", ""))
        account_in_path = request.match_info.get("account")
        for account in self.scenario.accounts.values():
            good = (user == account.sid and password == account.auth_token) or (
                account.api_keys.get(user) == password and password
            )
            if good:
                # A parent's credentials reach its subaccounts' resources too.
                inside = self.scenario.accounts.get(account_in_path or "")
                mine = inside is not None and account.sid in (inside.sid, inside.owner_sid)
                if account_in_path and not mine:
                    return wire.error(403, 20003, "Permission Denied")
                return None
        return wire.error(401, 20003, "Authenticate")

    # -- resources -----------------------------------------------------------------------

    async def _message(self, request: web.Request) -> web.Response:
        account, sid = request.match_info["account"], request.match_info["sid"]
        message = self._listing.update(self.scenario.messages).by_sid.get(sid)
        if message is not None and message.account_sid == account:
            return web.json_response(self._cached_json(message))
        return wire.error(
            404,
            20404,
            f"The requested resource /2010-04-01/Accounts/{account}/Messages/{sid}.json "
            "was not found",
        )

    async def _messages(self, request: web.Request) -> web.Response:
        account = request.match_info["account"]
        query = request.query
        try:
            page_size = min(int(query.get("PageSize", DEFAULT_PAGE_SIZE)), MAX_PAGE_SIZE)
            page = int(query.get("Page", 0))
            exact, before, after = (
                wire.parse_date(query.get(name)) for name in ("DateSent", "DateSent<", "DateSent>")
            )
        except ValueError:
            return wire.error(400, 20001, "Invalid paging or date parameter")
        if page_size < 1:
            return wire.error(400, 20001, "PageSize must be positive")
        listing = self._listing.update(self.scenario.messages)
        if "To" in query:  # a recipient's history, without scanning the whole account
            chosen = listing.by_to.get((account, query["To"]), [])
        else:
            chosen = listing.newest_first.get(account, [])
        if any(name in query for name in ("To", "From", "DateSent", "DateSent<", "DateSent>")):
            chosen = [
                m
                for m in chosen
                if query.get("To", m.to) == m.to
                and query.get("From", m.from_) == m.from_
                and wire.sent_matches(m.date_sent, exact, before, after)
            ]
        if token := query.get("PageToken"):
            # Twilio's tokens point after the last item of the previous page ("PA" + its SID),
            # so pages stay stable while new messages arrive at the head of the list.
            after_sid = listing.by_sid.get(token[2:])
            start = len(chosen)
            if after_sid is not None and after_sid.account_sid == account:
                start = wire.position_after(chosen, after_sid)
        else:
            start = page * page_size
        items = chosen[start : start + page_size]
        uri = request.path
        params = {k: v for k, v in query.items() if k not in ("Page", "PageToken")}
        params["PageSize"] = str(page_size)
        next_uri = None
        if start + page_size < len(chosen) and items:
            next_params = {**params, "Page": str(page + 1), "PageToken": "PA" + items[-1].sid}
            next_uri = uri + "?" + urlencode(next_params)
        return web.json_response(
            {
                "messages": [self._cached_json(m) for m in items],
                "page": page,
                "page_size": page_size,
                "start": start,
                "end": start + len(items) - 1,
                "uri": uri + "?" + urlencode({**params, "Page": str(page)}),
                "first_page_uri": uri + "?" + urlencode({**params, "Page": "0"}),
                "next_page_uri": next_uri,
                "previous_page_uri": None,
            }
        )

    def _cached_json(self, m: SimMessage) -> dict[str, Any]:
        """`wire.message_json(m)`, remembered until a field a test may change does change."""
        key = (m.status, m.error_code, m.error_message, m.date_sent, m.date_updated, m.price)
        held = self._as_json.get(m.sid)
        if held is None or held[0] != key:
            held = self._as_json[m.sid] = (key, wire.message_json(m))
        return held[1]

    async def _lookup(self, request: web.Request) -> web.Response:
        raw = request.match_info["number"]
        wanted = {f.strip() for f in request.query.get("Fields", "").split(",") if f.strip()}
        body: dict[str, Any] = {
            "calling_country_code": None,
            "country_code": None,
            "phone_number": raw,
            "national_format": None,
            "valid": False,
            "validation_errors": [],
            "caller_name": None,
            "line_type_intelligence": None,
            "url": f"https://lookups.twilio.com/v2/PhoneNumbers/{raw}",
        }
        try:
            number = phonenumbers.parse(raw, None)
        except phonenumbers.NumberParseException:
            body["validation_errors"] = ["NOT_A_NUMBER"]
            return web.json_response(body)
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        body.update(
            calling_country_code=str(number.country_code),
            country_code=phonenumbers.region_code_for_number(number),
            phone_number=e164,
            national_format=phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.NATIONAL
            ),
        )
        known = self.scenario.numbers.get(e164)
        if known is None and not phonenumbers.is_valid_number(number):
            body["validation_errors"] = [wire.validation_error(number)]
            return web.json_response(body)
        if known is not None and not known.valid:
            body["validation_errors"] = ["INVALID_BUT_POSSIBLE"]
            return web.json_response(body)
        body["valid"] = True
        if "line_type_intelligence" in wanted:
            info = known or SimNumber(
                line_type=wire.LINE_TYPES.get(phonenumbers.number_type(number), "unknown")
            )
            body["line_type_intelligence"] = {
                "type": info.line_type,
                "carrier_name": info.carrier_name,
                "mobile_country_code": info.mobile_country_code,
                "mobile_network_code": info.mobile_network_code,
                "error_code": None,
            }
            if info.error_code:
                body["line_type_intelligence"] = dict.fromkeys(body["line_type_intelligence"])
                body["line_type_intelligence"]["error_code"] = info.error_code
        return web.json_response(body)
