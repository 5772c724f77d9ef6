"""Scenario: the Twilio world the simulator serves, built in code: accounts, their
messages, and what Lookup knows of numbers. Tests change it while the simulator runs.
"""

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


def make_sid(prefix: str, *parts: object) -> str:
    """A stable 34-character SID from any parts, e.g. make_sid("SM", 42)."""
    return prefix + hashlib.md5(repr(parts).encode()).hexdigest()


@dataclass
class SimAccount:
    sid: str
    auth_token: str
    status: str = "active"
    friendly_name: str = "Simulated account"
    api_keys: dict[str, str] = field(default_factory=dict)  # key SID -> secret
    owner_sid: str = ""  # the parent, for a subaccount


@dataclass
class SimMessage:
    sid: str
    account_sid: str
    to: str
    from_: str
    status: str
    date_created: datetime
    date_sent: datetime | None = None
    date_updated: datetime | None = None
    error_code: int | None = None
    error_message: str | None = None
    messaging_service_sid: str | None = None
    num_segments: int = 1
    price: str | None = None
    direction: str = "outbound-api"
    body: str = "Your code is 123456"


@dataclass
class SimNumber:
    """What Lookup says about a number; numbers not listed are described by phonenumbers."""

    line_type: str = "mobile"
    carrier_name: str = "Simulated Wireless"
    mobile_country_code: str | None = "310"
    mobile_network_code: str | None = "260"
    error_code: int | None = None  # e.g. 60601: then Lookup gives no line type data
    valid: bool = True  # False: Twilio calls it invalid though phonenumbers accepts it


@dataclass
class SimRegistration:
    """A brand, a campaign (of a Messaging Service) or a toll-free verification, with
    what Twilio's Messaging API v1 says of it; tests change `status` and `reason`."""

    kind: str  # "brand", "campaign" or "toll-free"
    sid: str
    account_sid: str
    status: str
    reason: str = ""
    about: str = ""  # a brand's type, a campaign's use case, a toll-free number
    service_sid: str = ""  # a campaign's Messaging Service


@dataclass
class Scenario:
    accounts: dict[str, SimAccount] = field(default_factory=dict)
    messages: list[SimMessage] = field(default_factory=list)
    numbers: dict[str, SimNumber] = field(default_factory=dict)
    registrations: list[SimRegistration] = field(default_factory=list)

    def add_registration(
        self, account_sid: str, kind: str, status: str, **fields: Any
    ) -> SimRegistration:
        prefix = {"brand": "BN", "campaign": "QE", "toll-free": "HH"}[kind]
        fields.setdefault("sid", make_sid(prefix, account_sid, len(self.registrations)))
        if kind == "campaign":
            fields.setdefault("service_sid", make_sid("MG", account_sid, "service"))
        made = SimRegistration(kind, account_sid=account_sid, status=status, **fields)
        self.registrations.append(made)
        return made

    def add_account(self, sid: str, auth_token: str, **fields: Any) -> SimAccount:
        self.accounts[sid] = SimAccount(sid, auth_token, **fields)
        return self.accounts[sid]

    def add_subaccount(self, parent_sid: str, friendly_name: str, **fields: Any) -> SimAccount:
        """A subaccount of `parent_sid`, with its own SID and Auth Token."""
        sid = make_sid("AC", parent_sid, friendly_name, len(self.accounts))
        token = make_sid("", sid, "token")[:32]
        return self.add_account(
            sid, token, friendly_name=friendly_name, owner_sid=parent_sid, **fields
        )

    def add_message(self, account_sid: str, **fields: Any) -> SimMessage:
        """A message with sensible defaults; `sid` and dates can be given or derived."""
        created = fields.pop("date_created", datetime.now(UTC))
        fields.setdefault("sid", make_sid("SM", account_sid, len(self.messages)))
        fields.setdefault("date_sent", created)
        fields.setdefault("date_updated", created)
        fields.setdefault("from_", "+15005550006")
        fields.setdefault("status", "delivered")
        if fields["status"] in ("delivered", "undelivered", "sent") and "price" not in fields:
            fields["price"] = f"-{0.0079 * fields.get('num_segments', 1):.5f}"
        message = SimMessage(account_sid=account_sid, date_created=created, **fields)
        self.messages.append(message)
        return message

    def send_minute(
        self, account_sid: str, rng: random.Random, at: datetime, count: int, failing: float
    ) -> None:
        """`count` messages over the minute from `at`, from two senders to random US
        numbers; about `failing` of them undelivered with 30003 (the demo's and the
        simulator's traffic)."""
        for i in range(count):
            fails = rng.random() < failing
            self.add_message(
                account_sid,
                to=f"+1202555{rng.randrange(10_000):04d}",
                from_="+15005550006" if i % 2 else "+15005550010",
                status="undelivered" if fails else "delivered",
                error_code=30003 if fails else None,
                error_message="Unreachable destination handset" if fails else None,
                date_created=at + timedelta(seconds=i * 60 / count),
            )
