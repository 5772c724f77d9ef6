"""Merging: what a row read from the poll keeps of the row the store holds, and what a
batch of pushed reports changes; the same rules in every backend (their rows differ
only in how dates are typed: text or datetime).

A row's `status_at` says when the change that set its status happened: a pushed report's
own time, or, for a status the poll read, the message's `date_updated` at Twilio. Later
reports are judged against it (`domain.reports.takes_report`). Twilio's pages give whole
seconds and its events milliseconds, so a page's time stands for the end of its second:
within one second Twilio's own state wins (a page read too early is put right by the next
read; a report taken over a later page would never be). A row without `status_at` (set by
a StatusCallback, or stored before it was kept) is judged by its `date_updated`.
"""

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.domain import failures
from bot.domain.messages import FINAL_STATUSES, Message
from bot.domain.reports import Report, settled
from bot.store.encoding import iso

Row = dict[str, Any]
Change = tuple[Row | None, Row]  # a row as held (None: new) and as it is to be written


def read_countries(reports: Sequence[Report]) -> None:
    """Each reported number's country, read into `failures.country`'s cache: about 35 us
    for a number not seen before, which the caller runs on a thread of its own rather
    than the event loop (PostgreSQL) or the writer (SQLite)."""
    for report in reports:
        failures.country(report.message.to)


def by_message(reports: Sequence[Report]) -> dict[str, list[Report]]:
    """A batch's reports, grouped by the message they are about."""
    grouped: dict[str, list[Report]] = defaultdict(list)
    for report in reports:
        grouped[report.message.sid].append(report)
    return grouped


def reported(
    grouped: Mapping[str, list[Report]],
    held: Mapping[str, Mapping[str, Any]],
    message_of: Callable[[Row], Message],
    row_of: Callable[[Message], Row],
    stored: Callable[[datetime], object],
) -> list[Change]:
    """What a batch of reports changes, message by message (`reports.settled`): the
    status, code and time of a held row; a message not held is a new row, dated by its
    first change until the poll reads it. `message_of`/`row_of` are the backend's row
    encoding and `stored` how it writes a moment (text or timestamp); carriers are the
    caller's, in one query a batch."""
    changes: list[Change] = []
    for sid, found in grouped.items():
        row = dict(held[sid]) if sid in held else None
        before = None if row is None else message_of(row)
        kept = settled(before, _held_at(row) if row else None, found)
        if kept is None:
            continue
        changed = {
            "status": kept.message.status,
            "error_code": kept.message.error_code,
            "date_updated": stored(kept.at),
            "status_at": stored(kept.at),
        }
        if row is None:
            first = min(r.at for r in found)
            new = replace(kept.message, date_created=first, account_sid=kept.account_sid)
            changes.append((None, {**row_of(new), **changed}))
        else:
            changes.append((row, {**row, **changed}))
    return changes


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
    at = held.get("status_at") if same and held else _end_of_second(row["date_updated"])
    return {**row, "status_at": at}


def news(row: Mapping[str, Any], held: Mapping[str, Any] | None) -> bool:
    """Whether `row` brings a final status (or code) the store did not hold."""
    if row["status"] not in FINAL_STATUSES:
        return False
    return held is None or _outcome(held) != _outcome(row)


def _outcome(row: Mapping[str, Any]) -> tuple[object, object]:
    return row["status"], row["error_code"]


def _before(updated: object, held: Mapping[str, Any]) -> bool:
    """Whether a page's `date_updated` (whole seconds) is in a second before the one
    the held status was set in."""
    page, reported = _moment(updated), _held_at(held)
    return page is not None and reported is not None and page < reported.replace(microsecond=0)


def _held_at(row: Mapping[str, Any]) -> datetime | None:
    """When the held status was set: its `status_at`, else its `date_updated`."""
    at = _moment(row.get("status_at"))
    if at is not None:
        return at
    updated = _moment(row.get("date_updated"))
    return None if updated is None else _last_instant(updated)


def _last_instant(moment: datetime) -> datetime:
    """A whole-second moment (a page's) as the last instant of its second."""
    return moment if moment.microsecond else moment.replace(microsecond=999_999)


def _end_of_second(value: object) -> object:
    """`_last_instant` of a stored moment, typed as given (text or datetime); any other
    value as it is."""
    moment = _moment(value)
    if moment is None:
        return value
    end = _last_instant(moment)
    return iso(end) if isinstance(value, str) else end


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None
