"""Traffic: a window's final outbound messages counted by segment, and what `judge` looks
at for one code, built from them. Pure: the store groups the messages, this counts them."""

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.domain import segments
from bot.domain.segments import History, Segment, SegmentCounts, SegmentKind, Window

# A message's country, sender, carrier and account (or subaccount).
Where = tuple[str | None, str | None, str | None, str | None]
Sent = tuple[Where, int]  # final messages that went one way: where, how many
Failed = tuple[Where, int, str, int]  # failures: where, code, number, how many
CARRIERS_KNOWN = 0.5  # the share of a window's traffic with a carrier before carriers count


@dataclass(frozen=True)
class Traffic:
    """A window's final outbound messages, by segment, and the grouped rows they were
    counted from (so a mute can take its messages out of every segment and the account)."""

    messages: int = 0  # the account's
    final: Mapping[Segment, int] = field(default_factory=dict)
    failed: Mapping[tuple[Segment, int], int] = field(default_factory=dict)  # by code
    recipients: Mapping[tuple[Segment, int], int] = field(default_factory=dict)  # distinct
    account_failed: Mapping[int, int] = field(default_factory=dict)  # by code
    account_recipients: Mapping[int, int] = field(default_factory=dict)  # by code, distinct
    sent: tuple[Sent, ...] = ()
    failures: tuple[Failed, ...] = ()

    def without(self, muted: Collection[Segment]) -> "Traffic":
        """The window without every message that went through a muted segment."""
        if not muted:
            return self
        gone = set(muted)
        return counted(
            [row for row in self.sent if gone.isdisjoint(_places(row[0]))],
            [row for row in self.failures if gone.isdisjoint(_places(row[0]))],
        )


def counted(sent: Iterable[Sent], failures: Iterable[Failed]) -> Traffic:
    """A Traffic from its grouped rows."""
    sent, failures = tuple(sent), tuple(failures)
    final: Counter[Segment] = Counter()
    failed: Counter[tuple[Segment, int]] = Counter()
    numbers: dict[tuple[Segment, int], set[str]] = {}
    account_failed: Counter[int] = Counter()
    account_numbers: dict[int, set[str]] = {}
    for where, n in sent:
        for segment in _places(where):
            final[segment] += n
    for where, code, number, n in failures:
        account_failed[code] += n
        account_numbers.setdefault(code, set()).add(number)
        for segment in _places(where):
            failed[segment, code] += n
            numbers.setdefault((segment, code), set()).add(number)
    return Traffic(
        sum(n for _, n in sent),
        dict(final),
        dict(failed),
        {key: len(found) for key, found in numbers.items()},
        dict(account_failed),
        {code: len(found) for code, found in account_numbers.items()},
        sent,
        failures,
    )


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
    sent: list[list[Sent]] = [[] for _ in range(spans)]
    failed: list[list[Failed]] = [[] for _ in range(spans)]
    for where, innermost, n in totals:
        for i in range(innermost + 1):
            sent[i].append((where, n))
    for where, innermost, code, number, n in failures:
        for i in range(innermost + 1):
            failed[i].append((where, code, number, n))
    return [counted(sent[i], failed[i]) for i in range(spans)]


def _places(where: Where) -> list[Segment]:
    return [
        Segment(kind, value)
        for kind, value in zip(
            (SegmentKind.COUNTRY, SegmentKind.SENDER, SegmentKind.CARRIER, SegmentKind.SUBACCOUNT),
            where,
            strict=True,
        )
        if value
    ]


def windows(
    code: int,
    spans: Sequence[tuple[int, Traffic]],
    histories: Mapping[Segment, History],
    subaccounts: bool = False,
) -> list[Window]:
    """What `judge` looks at for `code`: each span (its minutes and its traffic, mutes
    already taken out) with every segment that had traffic in it. Carriers count only in
    a window where most of the traffic has a known carrier: with the lookup cache alone,
    the numbers someone looked up (mostly failing ones) would make a carrier look sick.
    Accounts are segments only with `subaccounts` watched: else the one account's
    segment is the account itself."""
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
                if segment.kind != SegmentKind.CARRIER or _carriers_known(found)
                if segment.kind != SegmentKind.SUBACCOUNT or subaccounts
            ),
        )
        for minutes, found in spans
    ]


def _carriers_known(found: Traffic) -> bool:
    known = sum(n for s, n in found.final.items() if s.kind == SegmentKind.CARRIER)
    return known >= CARRIERS_KNOWN * found.messages > 0


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
