"""Counting: which hourly rollup rows a stored message counts in, the same rule for every
backend's rollup (each keys its hours in its own type) as its FINAL_OUTBOUND says in SQL."""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from bot.domain.messages import FINAL_STATUSES

K = TypeVar("K")
TOTAL = -1  # the error_code of an hour's row counting all its final outbound messages
HOUR = timedelta(hours=1)


def counted_in(
    row: Mapping[str, Any] | None, hour: Callable[[Any], K | None]
) -> list[tuple[K, int]]:
    """The (hour, code) rows a message counts in: TOTAL, and its code if it has one, in
    the hour of its moment (`hour` keys it, None when it is no moment), if it is a final
    outbound message."""
    if row is None:
        return []
    key = hour(row.get("date_sent") or row.get("date_created"))
    direction = str(row.get("direction") or "").lower()
    if key is None or not direction.startswith("outbound"):
        return []
    if row.get("status") not in FINAL_STATUSES:
        return []
    code = row.get("error_code")
    return [(key, TOTAL)] + ([(key, int(code))] if code is not None else [])


def whole_hours(since: datetime, until: datetime) -> list[datetime]:
    """The starts of the whole hours within [since, until), oldest first, in UTC."""
    floor = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    start = floor + (HOUR if floor < since else timedelta())
    hours = []
    while start + HOUR <= until:
        hours.append(start)
        start += HOUR
    return hours
