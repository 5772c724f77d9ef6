"""Traffic: a window's final outbound messages counted by segment, and what `judge` looks
at for one code, built from them. Pure: the store groups the messages, this counts them."""

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.domain import segments
from bot.domain.segments import History, Segment, SegmentCounts, SegmentKind, Window


@dataclass(frozen=True)
class Traffic:
    """A window's final outbound messages, by segment."""

    messages: int = 0  # the account's
    final: Mapping[Segment, int] = field(default_factory=dict)
    failed: Mapping[tuple[Segment, int], int] = field(default_factory=dict)  # by code
    recipients: Mapping[tuple[Segment, int], int] = field(default_factory=dict)  # distinct


Where = tuple[str | None, str | None, str | None]  # a message's country, sender, carrier


def traffic(
    totals: Iterable[tuple[Where, int]], failures: Iterable[tuple[Where, int, str, int]]
) -> Traffic:
    """A Traffic from a window's final messages grouped by where they went (`totals`) and
    its failures of the watched codes by where, code and number (`failures`)."""
    messages = 0
    final: Counter[Segment] = Counter()
    failed: Counter[tuple[Segment, int]] = Counter()
    numbers: dict[tuple[Segment, int], set[str]] = {}
    for where, n in totals:
        messages += n
        for segment in _places(where):
            final[segment] += n
    for where, code, number, n in failures:
        for segment in _places(where):
            failed[segment, code] += n
            numbers.setdefault((segment, code), set()).add(number)
    return Traffic(
        messages, dict(final), dict(failed), {key: len(found) for key, found in numbers.items()}
    )


def _places(where: Where) -> list[Segment]:
    return [
        Segment(kind, value)
        for kind, value in zip(
            (SegmentKind.COUNTRY, SegmentKind.SENDER, SegmentKind.CARRIER), where, strict=True
        )
        if value
    ]


def windows(
    code: int,
    spans: Sequence[tuple[int, Traffic]],
    histories: Mapping[Segment, History],
    muted: Collection[Segment] = (),
) -> list[Window]:
    """What `judge` looks at for `code`: each span (its minutes and its traffic) with every
    segment that had traffic in it, but those muted."""
    return [
        Window(
            minutes,
            found.messages,
            tuple(
                SegmentCounts(
                    segment,
                    final,
                    found.failed.get((segment, code), 0),
                    found.recipients.get((segment, code), 0),
                    histories.get(segment, History()),
                )
                for segment, final in sorted(found.final.items())
                if segment not in muted
            ),
        )
        for minutes, found in spans
    ]


def histories(
    rows: Iterable[tuple[object, str, str, int, int]], code: int, total: int
) -> dict[Segment, History]:
    """Each segment's History for `code`, from rollup rows (hour, kind, segment,
    error_code, messages) of `total` (final messages) and of `code`."""
    hours: dict[Segment, dict[object, list[int]]] = {}
    for hour, kind, value, counted, n in rows:
        if counted not in (total, code) or kind not in _KINDS:
            continue
        found = hours.setdefault(Segment(SegmentKind(kind), value), {})
        found.setdefault(hour, [0, 0])[0 if counted == total else 1] += n
    return {
        segment: segments.history([(final, failed) for final, failed in by_hour.values()])
        for segment, by_hour in hours.items()
    }


_KINDS = frozenset(kind.value for kind in SegmentKind)
