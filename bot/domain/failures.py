"""Failures: one error code's failed messages over a span, counted rather than held.

Pure. The store counts them in SQL (a spike at a busy account is thousands of rows, and a
reading needs only who they went to, who sent them and a few SIDs); `of_messages` counts
the same from messages, for answers built from what Twilio listed and for tests.
"""

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import phonenumbers

from bot.domain.messages import FINAL_STATUSES, Message, when

TOP = 3  # senders, countries and carriers shown
SAMPLES = 3  # message SIDs shown


@dataclass(frozen=True)
class Failures:
    """Final outbound messages that failed with one code. Ties among the most frequent
    go to the smaller value, and among samples of one moment to the larger SID, so the
    store and `of_messages` agree."""

    recipients: Mapping[str, int] = field(default_factory=dict)  # messages per number
    senders: tuple[tuple[str, int], ...] = ()  # the TOP most frequent, most first
    samples: tuple[str, ...] = ()  # the SAMPLES newest SIDs, newest first

    @property
    def failed(self) -> int:
        return sum(self.recipients.values())

    def countries(self) -> tuple[tuple[str, int], ...]:
        return top(_weighted(self.recipients, country))

    def carriers(self, known: Mapping[str, str]) -> tuple[tuple[str, int], ...]:
        return top(_weighted(self.recipients, lambda number: known.get(number, "")))


def outbound_final(messages: Iterable[Message]) -> list[Message]:
    return [
        m for m in messages if m.direction.startswith("outbound") and m.status in FINAL_STATUSES
    ]


def of_messages(
    messages: Iterable[Message], code: int, since: datetime, until: datetime
) -> Failures:
    """The final outbound messages among `messages` that failed with `code` in
    [since, until], counted."""
    hits = [
        m for m in outbound_final(messages) if m.error_code == code and since <= when(m) <= until
    ]
    newest = sorted(hits, key=lambda m: (when(m), m.sid), reverse=True)
    return Failures(
        recipients=dict(Counter(m.to for m in hits)),
        senders=top(Counter(m.messaging_service_sid or m.from_ for m in hits)),
        samples=tuple(m.sid for m in newest[:SAMPLES]),
    )


def top(counted: Mapping[str, int]) -> tuple[tuple[str, int], ...]:
    """The TOP most frequent non-empty values, most first, ties to the smaller value."""
    ranked = sorted(((v, n) for v, n in counted.items() if v), key=lambda vn: (-vn[1], vn[0]))
    return tuple(ranked[:TOP])


def _weighted(recipients: Mapping[str, int], key: Callable[[str], str]) -> Counter[str]:
    counted = Counter[str]()
    for number, messages in recipients.items():
        counted[key(number)] += messages
    return counted


@lru_cache(maxsize=65_536)
def country(number: str) -> str:
    """The region a number belongs to ("" when it is not a number). Remembered: a spike's
    recipients stay in the window for several cycles, and parsing one costs about 35 µs."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return ""
    return phonenumbers.region_code_for_number(parsed) or ""
