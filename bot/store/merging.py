"""Merging: what a row read from the poll keeps of the row the store holds, the same rule
in every backend (their rows differ only in how dates are typed: text or datetime).

A row's `status_at` says when the change that set its status happened: a pushed report's
own time, or, for a status the poll read, the message's `date_updated` at Twilio. Later
reports are judged against it (`domain.reports.takes_report`).
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.domain.messages import FINAL_STATUSES

Row = dict[str, Any]


def merged(row: Row, held: Mapping[str, Any] | None) -> Row:
    """`row` as the poll read it, with the held status (its code and time) kept where
    the page is older than what the store holds: over a status that is not final (a page
    read before a pushed report arrived; Twilio's state only moves on), and over another
    final one that a report set later than the page's `date_updated`. A status that
    changes takes the page's `date_updated` as its time; one that does not keeps its own."""
    if held is not None and held["status"] in FINAL_STATUSES:
        older = row["status"] not in FINAL_STATUSES or _before(row["date_updated"], held)
        if older:
            row = {**row, "status": held["status"], "error_code": held["error_code"]}
    same = held is not None and _outcome(held) == _outcome(row)
    return {**row, "status_at": held.get("status_at") if same and held else row["date_updated"]}


def news(row: Mapping[str, Any], held: Mapping[str, Any] | None) -> bool:
    """Whether `row` brings a final status (or code) the store did not hold."""
    if row["status"] not in FINAL_STATUSES:
        return False
    return held is None or _outcome(held) != _outcome(row)


def _outcome(row: Mapping[str, Any]) -> tuple[object, object]:
    return row["status"], row["error_code"]


def _before(updated: object, held: Mapping[str, Any]) -> bool:
    """Whether a page's `date_updated` is earlier than the held status's own time."""
    page, reported = _moment(updated), _moment(held.get("status_at"))
    return page is not None and reported is not None and page < reported


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None
