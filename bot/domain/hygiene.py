"""Hygiene: the numbers to stop sending to or to fix, and the senders that keep writing to
people who opted out, from what the store holds.

Pure. Two kinds of numbers:
- definitive: the last word on the number was an error that will not go away by trying
  again (DEFINITIVE), and nothing was delivered to it since;
- suspect: its latest messages all failed with 30003, more of them in a row than the
  team's policy tolerates (STREAK_LIMIT within STREAK_DAYS). Twilio never calls such a
  number dead; the run only makes it likely, so it is listed apart.
Each 21610 is a message sent after its recipient opted out: the senders that did so are
listed with how often and to how many numbers.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.policy import STREAK_CODE, Policy

OPTED_OUT = 21610
# The errors that say a number will not take SMS as it is: what to do about each.
DEFINITIVE: dict[int, str] = {
    30005: "no such handset, or out of service: remove the number",
    30006: "a landline, or a carrier that takes no SMS: reach it another way",
    21614: "not a mobile number: ask for a mobile one",
    21211: "not a valid number: fix it where it was entered",
    OPTED_OUT: "opted out (STOP): send nothing until they opt back in",
    30004: "blocked, by the recipient, the carrier or a filter: stop and find out why",
}


class Kind(StrEnum):
    DEFINITIVE = "definitive"
    SUSPECT = "suspect"


@dataclass(frozen=True)
class Outcome:
    """One final outbound message to a number that failed with one of CODES: when, its
    error and who sent it."""

    number: str
    moment: datetime
    code: int
    sender: str


@dataclass(frozen=True)
class Last:
    """A number's latest final messages of another kind: the last that had no error, and
    the last that did not fail with STREAK_CODE (which ends a run of it)."""

    delivered: datetime | None
    other: datetime | None


@dataclass(frozen=True)
class Record:
    """What the store holds that the lists are drawn from: the failures with CODES, and
    for each number that has one, its Last."""

    failures: tuple[Outcome, ...]
    lasts: Mapping[str, Last]


@dataclass(frozen=True)
class NumberEntry:
    number: str
    kind: Kind
    code: int  # its last error
    count: int  # its messages that failed so (definitive), or the run's length (suspect)
    first: datetime
    last: datetime


@dataclass(frozen=True)
class SenderEntry:
    sender: str
    messages: int  # sent to numbers that had opted out (21610)
    numbers: int
    first: datetime
    last: datetime


@dataclass(frozen=True)
class Hygiene:
    definitive: tuple[NumberEntry, ...]
    suspect: tuple[NumberEntry, ...]
    opted_out_senders: tuple[SenderEntry, ...]
    since: datetime  # what the store holds reaches back this far
    now: datetime


CODES = (*DEFINITIVE, STREAK_CODE)  # a number with one of these is worth a look


def assess(record: Record, policy: Policy, since: datetime, now: datetime) -> Hygiene:
    """The hygiene lists, newest entries first."""
    by_number: dict[str, list[Outcome]] = defaultdict(list)
    senders: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in record.failures:
        by_number[outcome.number].append(outcome)
        if outcome.code == OPTED_OUT and outcome.sender:
            senders[outcome.sender].append(outcome)
    definitive, suspect = [], []
    streak_since = now - timedelta(days=policy.streak_days)
    for number, found in by_number.items():
        found.sort(key=lambda o: o.moment)
        last = record.lasts.get(number, Last(None, None))
        if (entry := _definitive(number, found, last)) is not None:
            definitive.append(entry)
        elif entry := _suspect(number, found, last, policy.streak_limit, streak_since):
            suspect.append(entry)
    opted_out = [
        SenderEntry(
            sender,
            len(sent),
            len({o.number for o in sent}),
            min(o.moment for o in sent),
            max(o.moment for o in sent),
        )
        for sender, sent in senders.items()
    ]
    return Hygiene(
        tuple(sorted(definitive, key=_newest_first)),
        tuple(sorted(suspect, key=_newest_first)),
        tuple(sorted(opted_out, key=lambda s: (-s.messages, s.sender))),
        since,
        now,
    )


def recorded(messages: Iterable[tuple[str, datetime, int | None, str]]) -> Record:
    """The Record of final outbound messages (number, moment, error code, sender): what
    the store's queries return, said in Python."""
    failures: list[Outcome] = []
    lasts: dict[str, Last] = {}
    found = list(messages)
    failing = {number for number, _, code, _ in found if code in CODES}
    for number, moment, code, sender in found:
        if number not in failing:
            continue
        if code in CODES:
            failures.append(Outcome(number, moment, code, sender))
        held = lasts.get(number, Last(None, None))
        delivered, other = held.delivered, held.other
        if code is None and (delivered is None or moment > delivered):
            delivered = moment
        if code != STREAK_CODE and (other is None or moment > other):
            other = moment
        lasts[number] = Last(delivered, other)
    return Record(tuple(failures), lasts)


def _definitive(number: str, found: list[Outcome], last: Last) -> NumberEntry | None:
    """Listed while no message reached the number after its last definitive error."""
    # Only what failed since the number last took a message counts.
    failed = [
        o
        for o in found
        if o.code in DEFINITIVE and (last.delivered is None or o.moment > last.delivered)
    ]
    if not failed:
        return None
    return NumberEntry(
        number, Kind.DEFINITIVE, failed[-1].code, len(failed), failed[0].moment, failed[-1].moment
    )


def _suspect(
    number: str, found: list[Outcome], last: Last, limit: int, since: datetime
) -> NumberEntry | None:
    """The run of STREAK_CODE since anything else reached the number, within the policy's
    days, when longer than it tolerates."""
    run = [
        o
        for o in found
        if o.code == STREAK_CODE
        and o.moment >= since
        and (last.other is None or o.moment > last.other)
    ]
    if len(run) <= limit:
        return None
    return NumberEntry(number, Kind.SUSPECT, STREAK_CODE, len(run), run[0].moment, run[-1].moment)


def _newest_first(entry: NumberEntry) -> tuple[float, str]:
    return (-entry.last.timestamp(), entry.number)
