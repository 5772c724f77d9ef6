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
from collections.abc import Iterable
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
    """One final outbound message to a number: when, its error (None: delivered or no
    error) and who sent it."""

    number: str
    moment: datetime
    code: int | None
    sender: str


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


def assess(outcomes: Iterable[Outcome], policy: Policy, since: datetime, now: datetime) -> Hygiene:
    """The hygiene lists from every final outbound message since `since` to the numbers
    that failed with one of CODES, newest entries first."""
    by_number: dict[str, list[Outcome]] = defaultdict(list)
    senders: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_number[outcome.number].append(outcome)
        if outcome.code == OPTED_OUT and outcome.sender:
            senders[outcome.sender].append(outcome)
    definitive, suspect = [], []
    streak_since = now - timedelta(days=policy.streak_days)
    for number, found in by_number.items():
        found.sort(key=lambda o: o.moment)
        if (entry := _definitive(number, found)) is not None:
            definitive.append(entry)
        elif (entry := _suspect(number, found, policy.streak_limit, streak_since)) is not None:
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


def _definitive(number: str, found: list[Outcome]) -> NumberEntry | None:
    """Listed while no message reached the number after its last definitive error."""
    failed = [o for o in found if o.code in DEFINITIVE]
    if not failed or any(o.code is None and o.moment > failed[-1].moment for o in found):
        return None
    code = failed[-1].code
    assert code is not None  # one of DEFINITIVE
    return NumberEntry(
        number, Kind.DEFINITIVE, code, len(failed), failed[0].moment, failed[-1].moment
    )


def _suspect(number: str, found: list[Outcome], limit: int, since: datetime) -> NumberEntry | None:
    """The trailing run of STREAK_CODE within the policy's days, when longer than it
    tolerates."""
    run = []
    for outcome in reversed(found):
        if outcome.code != STREAK_CODE or outcome.moment < since:
            break
        run.append(outcome)
    if len(run) <= limit:
        return None
    return NumberEntry(number, Kind.SUSPECT, STREAK_CODE, len(run), run[-1].moment, run[0].moment)


def _newest_first(entry: NumberEntry) -> tuple[float, str]:
    return (-entry.last.timestamp(), entry.number)
