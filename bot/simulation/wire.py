"""Wire: how the simulator writes Twilio's JSON and reads Twilio's query strings (v2010
messages, RFC 2822 dates, DateSent filters, errors, Basic auth)."""

import base64
import binascii
from datetime import UTC, date, datetime
from typing import Any

import phonenumbers
from aiohttp import web

from bot.simulation.scenario import Scenario, SimMessage

LINE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE: "mobile",
    phonenumbers.PhoneNumberType.FIXED_LINE: "landline",
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "mobile",
    phonenumbers.PhoneNumberType.TOLL_FREE: "tollFree",
    phonenumbers.PhoneNumberType.VOIP: "nonFixedVoip",
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "premium",
    phonenumbers.PhoneNumberType.SHARED_COST: "sharedCost",
    phonenumbers.PhoneNumberType.PAGER: "pager",
    phonenumbers.PhoneNumberType.UAN: "uan",
    phonenumbers.PhoneNumberType.VOICEMAIL: "voicemail",
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER: "personal",
}


def position_after(newest_first: list[SimMessage], item: SimMessage) -> int:
    """Where the page after `item` starts, by binary search on (date_created, sid), the
    list being sorted on that key in descending order."""
    key = (item.date_created, item.sid)
    low, high = 0, len(newest_first)
    while low < high:
        middle = (low + high) // 2
        m = newest_first[middle]
        if (m.date_created, m.sid) > key:
            low = middle + 1
        else:
            high = middle
    if low < len(newest_first) and newest_first[low] is item:
        return low + 1
    return low


def validation_error(number: phonenumbers.PhoneNumber) -> str:
    reason = phonenumbers.is_possible_number_with_reason(number)
    return {
        phonenumbers.ValidationResult.TOO_SHORT: "TOO_SHORT",
        phonenumbers.ValidationResult.TOO_LONG: "TOO_LONG",
        phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "INVALID_COUNTRY_CODE",
        phonenumbers.ValidationResult.INVALID_LENGTH: "INVALID_LENGTH",
    }.get(reason, "INVALID_BUT_POSSIBLE")


def message_json(m: SimMessage) -> dict[str, Any]:
    uri = f"/2010-04-01/Accounts/{m.account_sid}/Messages/{m.sid}.json"
    return {
        "sid": m.sid,
        "account_sid": m.account_sid,
        "api_version": "2010-04-01",
        "body": m.body,
        "date_created": rfc2822(m.date_created),
        "date_sent": rfc2822(m.date_sent) if m.date_sent else None,
        "date_updated": rfc2822(m.date_updated) if m.date_updated else None,
        "direction": m.direction,
        "error_code": m.error_code,
        "error_message": m.error_message,
        "from": m.from_,
        "to": m.to,
        "messaging_service_sid": m.messaging_service_sid,
        "num_media": "0",
        "num_segments": str(m.num_segments),
        "price": m.price,
        "price_unit": "USD",
        "status": m.status,
        "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
        "uri": uri,
    }


def rfc2822(moment: datetime) -> str:
    # What email.utils.format_datetime writes for UTC, in a third of the time.
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def parse_date(value: str | None) -> datetime | date | None:
    """`DateSent` filters: a day (YYYY-MM-DD) or, as twilio-python sends, a UTC instant."""
    if not value:
        return None
    if len(value) == 10:
        return date.fromisoformat(value)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def sent_matches(
    sent: datetime | None,
    exact: datetime | date | None,
    before: datetime | date | None,
    after: datetime | date | None,
) -> bool:
    if exact is None and before is None and after is None:
        return True
    if sent is None:
        return False

    def compare(bound: datetime | date) -> tuple[Any, Any]:
        assert sent is not None
        return (sent.date(), bound) if not isinstance(bound, datetime) else (sent, bound)

    if exact is not None:
        left, right = compare(exact)
        if left != right:
            return False
    # Twilio's `<` and `>` filters include the bound (they mean on-or-before / on-or-after).
    if before is not None:
        left, right = compare(before)
        if left > right:
            return False
    if after is not None:
        left, right = compare(after)
        if left < right:
            return False
    return True


def basic_auth(header: str) -> tuple[str, str]:
    if not header.startswith("Basic "):
        return "", ""
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return user, password


def account_of(scenario: "Scenario", request: web.Request) -> str:
    """The account a request's Basic credentials belong to ("" for none)."""
    user, _ = basic_auth(request.headers.get("Authorization", ""))
    for account in scenario.accounts.values():
        if user == account.sid or user in account.api_keys:
            return account.sid
    return ""


def v1_page(url: str, key: str, found: list[dict[str, Any]]) -> web.Response:
    """A v1 API's list answer: one page holding `found` under `key`, as its meta names it."""
    first = f"{url}?PageSize=50&Page=0"
    meta = {
        "page": 0,
        "page_size": 50,
        "first_page_url": first,
        "previous_page_url": None,
        "url": first,
        "next_page_url": None,
        "key": key,
    }
    return web.json_response({key: found, "meta": meta})


def error(
    status: int, code: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
        headers=headers,
    )
