"""Counting: which hourly rollup rows a stored message counts in, the same rule for every
backend's rollup (each keys its hours in its own type) as its SQL counts an hour.

A row of the rollup is (hour, kind, segment, error_code) -> messages. The account's own
rows (kind ACCOUNT, segment "") count every outbound message (SENT), those delivered
(DELIVERED), the final ones (TOTAL) and those of each error code; each segment's rows
(its country, sender, carrier and account, where the message has one) count the final ones and
those of each code.
"""

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from bot.domain.messages import FINAL_STATUSES

K = TypeVar("K")
ACCOUNT = "account"  # the kind of the account's own rows
TOTAL = -1  # the error_code of a row counting final outbound messages
SENT = -2  # ... counting every outbound message, final or not (the account's rows only)
DELIVERED = -3  # ... counting those delivered (the account's rows only)
HOUR = timedelta(hours=1)
# What a count of an hour groups its messages by, in either backend's SQL: what tells
# their rollup rows apart (the country and carrier are set when a message is stored).
SENDER_SQL = "coalesce(nullif(messaging_service_sid, ''), from_)"
GROUPS = f"country, {SENDER_SQL}, carrier, account_sid, status, error_code, count(*)"
GROUP_BY = "group by 1, 2, 3, 4, 5, 6"  # every column of GROUPS but the count
SEGMENT_SQL = {  # by kind
    "country": "country",
    "sender": SENDER_SQL,
    "carrier": "carrier",
    "subaccount": "account_sid",
}

Key = tuple[K, str, str, int]


def segments_of(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (kind, segment) pairs a stored message belongs to, as SEGMENT_SQL finds them."""
    sender = row.get("messaging_service_sid") or row.get("from_")
    found = (
        ("country", row.get("country")),
        ("sender", sender),
        ("carrier", row.get("carrier")),
        ("subaccount", row.get("account_sid")),
    )
    return [(kind, str(value)) for kind, value in found if value]


def counted_in(row: Mapping[str, Any] | None, hour: Callable[[Any], K | None]) -> list[Key[K]]:
    """The rollup rows a message counts in, in the hour of its moment (`hour` keys it,
    None when it is no moment), if it is an outbound message."""
    if row is None:
        return []
    key = hour(row.get("date_sent") or row.get("date_created"))
    direction = str(row.get("direction") or "").lower()
    if key is None or not direction.startswith("outbound"):
        return []
    found: list[Key[K]] = [(key, ACCOUNT, "", SENT)]
    status = row.get("status")
    if status == "delivered":
        found.append((key, ACCOUNT, "", DELIVERED))
    if status not in FINAL_STATUSES:
        return found
    code = row.get("error_code")
    for kind, segment in [(ACCOUNT, ""), *segments_of(row)]:
        found.append((key, kind, segment, TOTAL))
        if code is not None:
            found.append((key, kind, segment, int(code)))
    return found


def counted_groups(key: K, groups: Iterable[Sequence[Any]]) -> Counter[Key[K]]:
    """The rollup rows of one hour (`key`), from its outbound messages grouped as GROUPS
    selects them. The account's TOTAL row is there even when it counts nothing: it marks
    the hour as counted."""
    found: Counter[Key[K]] = Counter({(key, ACCOUNT, "", TOTAL): 0})
    for country, sender, carrier, account, status, code, n in groups:
        row = {
            "date_sent": key,
            "direction": "outbound",
            "status": status,
            "error_code": code,
            "country": country,
            "from_": sender,
            "carrier": carrier,
            "account_sid": account,
        }
        for counted in counted_in(row, lambda moment: moment):
            found[counted] += n
    return found


def whole_hours(since: datetime, until: datetime) -> list[datetime]:
    """The starts of the whole hours within [since, until), oldest first, in UTC."""
    floor = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    start = floor + (HOUR if floor < since else timedelta())
    hours = []
    while start + HOUR <= until:
        hours.append(start)
        start += HOUR
    return hours
