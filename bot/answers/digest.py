"""Digest: the day before, in one message for the alert channel at DIGEST_TIME.

Pure: built from the account's hourly counts of the day and of the days before it, the
incidents open during the day, and the hygiene lists; `due_day` says which day is due.
Numbers never appear: the channel is public to the team.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.answers.knowledge import Section
from bot.domain.alerting import Incident, duration
from bot.domain.hygiene import Hygiene
from bot.domain.messages import utc
from bot.store.counting import DELIVERED, SENT, TOTAL

TOP_CODES = 5
DAY = timedelta(days=1)


def due_day(now: datetime, at: time | None) -> date | None:
    """The day whose digest is due at `now`, in UTC: each day's from `at` the next day
    until `at` the day after, so a digest that could not go out at once (Slack refusing,
    its hours still being counted, `at` just before midnight) still goes; None with no
    DIGEST_TIME."""
    if at is None:
        return None
    now = now.astimezone(UTC)
    return now.date() - (DAY if now.time() >= at else 2 * DAY)


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


@dataclass(frozen=True)
class DigestIncident:
    incident: Incident
    name: str  # "30003 · United Kingdom (+44)", or the code and its title


@dataclass(frozen=True)
class Digest:
    day: date
    counts: Mapping[int, int]  # the day's, by error code, with SENT, TOTAL and DELIVERED
    before: Mapping[int, int]  # the same over the days before it
    days_before: float  # how many days `before` holds
    incidents: tuple[DigestIncident, ...]
    hygiene: Hygiene
    titles: Mapping[int, str]
    read_from: datetime | None = None  # when the day's stored messages begin, if late

    @property
    def heading(self) -> str:
        return f"Daily digest · {self.day.isoformat()} (UTC)"

    def facts(self) -> list[tuple[str, str]]:
        sent, final = self.counts.get(SENT, 0), self.counts.get(TOTAL, 0)
        rate, usual = _delivered(self.counts), _delivered(self.before)
        delivered = "no message reached a final status"
        if rate is not None:
            delivered = f"{rate:.1%} of the final ones"
            if usual is not None:
                change = (rate - usual) * 100
                delivered += f" ({change:+.1f} points against {usual:.1%} the {self._days} before)"
        h = self.hygiene
        partial = []
        if self.read_from is not None:
            partial = [("Partial", f"the bot holds the day's messages from {utc(self.read_from)}")]
        return [
            *partial,
            ("Sent", f"{sent:,} outbound messages, {final:,} with a final status"),
            ("Delivered", delivered),
            ("Incidents", self._incident_summary()),
            (
                "Hygiene",
                f"{len(h.definitive)} number(s) to stop or fix, {len(h.suspect)} suspect, "
                f"{len(h.opted_out_senders)} sender(s) writing after opt-out: "
                "`/twilio hygiene`",
            ),
        ]

    def sections(self) -> list[Section]:
        found = []
        codes = sorted(
            ((code, n) for code, n in self.counts.items() if code > 0 and n),
            key=lambda cn: (-cn[1], cn[0]),
        )[:TOP_CODES]
        if codes:
            lines = [self._code_line(code, n) for code, n in codes]
            found.append(Section("Top error codes", tuple(lines)))
        if self.incidents:
            lines = [self._incident_line(i) for i in self.incidents]
            found.append(Section("Incidents", tuple(lines)))
        return found

    @property
    def _days(self) -> str:
        return f"{self.days_before:g} days" if self.days_before != 1 else "day"

    def _code_line(self, code: int, n: int) -> str:
        title = self.titles.get(code, "")
        line = f"{code} {title}".strip() + f": {n:,}"
        if self.days_before > 0:
            usual = self.before.get(code, 0) / self.days_before
            if usual > 0:
                line += f" ({(n - usual) / usual:+.0%} against {usual:,.0f} a day)"
            else:
                line += " (new: none the days before)"
        return line

    def _incident_summary(self) -> str:
        start, end = start_of(self.day), start_of(self.day) + DAY
        opened = sum(start <= i.incident.opened_at < end for i in self.incidents)
        resolved = sum(
            i.incident.resolved_at is not None and start <= i.incident.resolved_at < end
            for i in self.incidents
        )
        still = sum(i.incident.resolved_at is None for i in self.incidents)
        return f"{opened} opened, {resolved} resolved, {still} still open"

    def _incident_line(self, found: DigestIncident) -> str:
        i = found.incident
        line = f"{i.severity} · {found.name} · opened {utc(i.opened_at)}"
        if i.resolved_at is not None:
            line += f", resolved after {duration(i.resolved_at - i.opened_at)}"
        else:
            line += ", still open"
        return line


def _delivered(counts: Mapping[int, int]) -> float | None:
    final = counts.get(TOTAL, 0)
    return counts.get(DELIVERED, 0) / final if final else None
