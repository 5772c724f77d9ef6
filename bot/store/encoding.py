"""Encoding: how the store writes the values it keeps as JSON text, the same in every
backend, so `db copy` moves them as they are."""

import json
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any

from bot.domain.segments import Segment, SegmentKind, SegmentReading
from bot.domain.spikes import Reading
from bot.domain.thresholds import Severity
from bot.store.values import Coverage, ReadingBack

COVERAGE = "ingest_coverage"  # the span the watcher has read every message of
READING_BACK = "ingest_reading_back"  # where an ingest that stopped short goes on
# The registrations' watch (ISO 8601 moments): when they were last read whole, when a
# read was last tried, and when Event Streams last said one changed.
REGISTRATIONS_CHECKED = "registrations_checked"
REGISTRATIONS_TRIED = "registrations_tried"
REGISTRATIONS_EVENT = "registrations_event"


def reading_json(reading: Reading) -> str:
    values = {f.name: getattr(reading, f.name) for f in fields(Reading)}
    values["since"] = reading.since.astimezone(UTC).isoformat()
    values["until"] = reading.until.astimezone(UTC).isoformat()
    values["segments"] = [
        {**asdict(s), "segment": [s.segment.kind.value, s.segment.value]} for s in reading.segments
    ]
    return json.dumps(values)


def reading_from_json(text: str) -> Reading:
    values = json.loads(text)
    for name in ("since", "until"):
        values[name] = datetime.fromisoformat(values[name])
    for name in ("senders", "countries", "carriers"):
        values[name] = tuple((label, n) for label, n in values[name])
    values["samples"], values["spark"] = tuple(values["samples"]), tuple(values["spark"])
    values["severity"] = Severity(values["severity"]) if values["severity"] else None
    found = values.get("account_severity")
    values["account_severity"] = Severity(found) if found else None
    values["segments"] = tuple(_segment_reading(found) for found in values.get("segments", ()))
    return Reading(**values)


def _segment_reading(values: dict[str, Any]) -> SegmentReading:
    kind, value = values["segment"]
    values = {
        **values,
        "segment": Segment(SegmentKind(kind), value),
        "severity": Severity(values["severity"]),
    }
    return SegmentReading(**values)


def coverage_values(coverage: Coverage) -> dict[str, str | None]:
    """The watcher-state values a coverage is kept as (None: deleted). The reading back
    under a name of its own: a version that knows nothing of it still reads the coverage
    (which then claims no more than is held)."""
    value = [iso(coverage.since), iso(coverage.through), coverage.interval_seconds]
    back = coverage.reading_back
    return {
        COVERAGE: json.dumps(value),
        READING_BACK: None
        if back is None
        else json.dumps([back.next_page, iso(back.down_to), iso(back.joins)]),
    }


def coverage_from_values(text: str | None, back: str | None) -> Coverage | None:
    if text is None:
        return None
    since, through, interval, *_ = json.loads(text)  # more, from a development build
    reading_back = None
    if back is not None:
        page, down_to, joins = json.loads(back)
        reading_back = ReadingBack(
            page, datetime.fromisoformat(down_to), datetime.fromisoformat(joins)
        )
    return Coverage(
        datetime.fromisoformat(since), datetime.fromisoformat(through), interval, reading_back
    )


def iso(moment: datetime) -> str:
    """A moment as the store writes it in text: ISO 8601 in UTC, so text order is time
    order (SQLite's columns, and the JSON values of both backends)."""
    return moment.astimezone(UTC).isoformat()
