"""Registrations in the simulator: the Messaging API v1 lists the watcher reads (A2P
10DLC brands, Messaging Services and their US A2P campaigns, toll-free verifications),
each account's own, in the shapes twilio-python reads, from the scenario's
`registrations`."""

from typing import Any

from aiohttp import web

from bot.simulation import wire
from bot.simulation.scenario import Scenario, SimRegistration


class RegistrationsApi:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/a2p/BrandRegistrations", self._brands)
        app.router.add_get("/v1/Services", self._services)
        app.router.add_get("/v1/Services/{service}/Compliance/Usa2p", self._campaigns)
        app.router.add_get("/v1/Tollfree/Verifications", self._toll_free)

    def _mine(self, request: web.Request, kind: str) -> list[SimRegistration]:
        account = wire.account_of(self.scenario, request)
        return [
            r for r in self.scenario.registrations if r.kind == kind and r.account_sid == account
        ]

    async def _brands(self, request: web.Request) -> web.Response:
        found: list[dict[str, Any]] = [
            {
                "sid": r.sid,
                "account_sid": r.account_sid,
                "status": r.status,
                "brand_type": r.about or "STANDARD",
                "failure_reason": r.reason or None,
                "errors": [],
            }
            for r in self._mine(request, "brand")
        ]
        return wire.v1_page(f"https://messaging.twilio.com{request.path}", "data", found)

    async def _services(self, request: web.Request) -> web.Response:
        sids = sorted({r.service_sid for r in self._mine(request, "campaign")})
        found = [{"sid": sid, "friendly_name": f"Service {sid[-4:]}"} for sid in sids]
        return wire.v1_page(f"https://messaging.twilio.com{request.path}", "services", found)

    async def _campaigns(self, request: web.Request) -> web.Response:
        service = request.match_info["service"]
        found = [
            {
                "sid": r.sid,
                "account_sid": r.account_sid,
                "messaging_service_sid": r.service_sid,
                "campaign_status": r.status,
                "us_app_to_person_usecase": r.about or "MIXED",
                "errors": [{"code": 30896, "description": r.reason}] if r.reason else [],
            }
            for r in self._mine(request, "campaign")
            if r.service_sid == service
        ]
        return wire.v1_page(f"https://messaging.twilio.com{request.path}", "compliance", found)

    async def _toll_free(self, request: web.Request) -> web.Response:
        found = [
            {
                "sid": r.sid,
                "account_sid": r.account_sid,
                "status": r.status,
                "tollfree_phone_number": r.about or "+18005550100",
                "business_name": "Simulated business",
                "rejection_reason": r.reason or None,
                "rejection_reasons": None,
            }
            for r in self._mine(request, "toll-free")
        ]
        return wire.v1_page(f"https://messaging.twilio.com{request.path}", "verifications", found)
