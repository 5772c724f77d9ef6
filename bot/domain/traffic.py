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


def traffics(
    spans: int,
    totals: Iterable[tuple[Where, int, int]],
    failures: Iterable[tuple[Where, int, int, str, int]],
) -> list[Traffic]:
    """One Traffic for each of `spans` nested windows ending together, the longest first,
    from the final messages grouped by where they went and the innermost window they fall
    in (`totals`: where, window, count) and the failures of the watched codes by where,
    window, code and number (`failures`). A message counts in its window and every
    longer one."""
    messages = [0] * spans
    final: list[Counter[Segment]] = [Counter() for _ in range(spans)]
    failed: list[Counter[tuple[Segment, int]]] = [Counter() for _ in range(spans)]
    numbers: list[dict[tuple[Segment, int], set[str]]] = [{} for _ in range(spans)]
    for where, innermost, n in totals:
        places = _places(where)
        for i in range(innermost + 1):
            messages[i] += n
            for segment in places:
                final[i][segment] += n
    for where, innermost, code, number, n in failures:
        places = _places(where)
        for i in range(innermost + 1):
            for segment in places:
                failed[i][segment, code] += n
                numbers[i].setdefault((segment, code), set()).add(number)
    return [
        Traffic(
            messages[i],
            dict(final[i]),
            dict(failed[i]),
            {key: len(found) for key, found in numbers[i].items()},
        )
        for i in range(spans)
    ]


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
    hours: dict[tuple[str, str], dict[object, list[int]]] = {}
    for hour, kind, value, counted, n in rows:
        if counted == total:
            hours.setdefault((kind, value), {}).setdefault(hour, [0, 0])[0] += n
        elif counted == code:
            hours.setdefault((kind, value), {}).setdefault(hour, [0, 0])[1] += n
    return {
        Segment(SegmentKind(kind), value): segments.history(
            [(final, failed) for final, failed in by_hour.values()]
        )
        for (kind, value), by_hour in hours.items()
        if kind in _KINDS
    }


_KINDS = frozenset(kind.value for kind in SegmentKind)
