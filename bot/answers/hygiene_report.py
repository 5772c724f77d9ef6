"""Hygiene report: what `/twilio hygiene` and `python -m bot hygiene [--csv]` show.

Pure. In Slack (`full` false), the counts and the newest entries with their numbers
masked, to the asker only; in the terminal, every entry with its number whole, or all of
it as CSV for a suppression list.
"""

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass

from bot.answers.knowledge import Section
from bot.domain.hygiene import DEFINITIVE, Hygiene, NumberEntry
from bot.domain.messages import utc
from bot.domain.policy import STREAK_CODE, Policy
from bot.domain.privacy import mask_numbers_in

SHOWN = 10  # entries of each list in Slack
CSV_COLUMNS = ("kind", "number", "last_error", "title", "count", "first_seen", "last_seen", "do")


@dataclass(frozen=True)
class HygieneReport:
    hygiene: Hygiene
    titles: Mapping[int, str]  # the official title of each code listed
    policy: Policy
    full: bool  # every entry and whole numbers (the terminal), or not (Slack)
    csv: bool = False

    @property
    def heading(self) -> str:
        h = self.hygiene
        return f"Number hygiene: {len(h.definitive)} to stop or fix, {len(h.suspect)} suspect"

    def facts(self) -> list[tuple[str, str]]:
        h = self.hygiene
        limit, days = self.policy.streak_limit, self.policy.streak_days
        return [
            ("Stop or fix", f"{len(h.definitive)} number(s): an error that retrying will not mend"),
            (
                "Suspect",
                f"{len(h.suspect)} number(s): more than {limit} {STREAK_CODE} in a row within "
                f"{days} days (team policy, not Twilio's word)",
            ),
            (
                "Sending after opt-out",
                f"{len(h.opted_out_senders)} sender(s) sent to numbers that had opted out",
            ),
            ("Read from", f"the messages stored since {utc(h.since)}"),
        ]

    def sections(self) -> list[Section]:
        h = self.hygiene
        found = []
        for title, entries in (
            ("Stop sending, or fix", h.definitive),
            ("Suspect: confirm before sending again", h.suspect),
        ):
            if entries:
                lines = [self._line(e) for e in self._shown(entries)]
                found.append(Section(title, (*lines, *self._more(len(entries)))))
        if h.opted_out_senders:
            lines = [
                f"{self._number(s.sender)}: {s.messages} message(s) to {s.numbers} number(s) "
                f"that had opted out, last {utc(s.last)}"
                for s in self._shown(h.opted_out_senders)
            ]
            title = "Senders still writing to numbers that opted out (21610)"
            found.append(Section(title, (*lines, *self._more(len(h.opted_out_senders)))))
        if not found:
            found.append(Section("Nothing to clean", ("No number needs attention.",)))
        return found

    def csv_text(self) -> str:
        """Every number listed, whole, one row each, for a suppression list."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for e in (*self.hygiene.definitive, *self.hygiene.suspect):
            writer.writerow(
                [
                    e.kind.value,
                    e.number,
                    e.code,
                    self.titles.get(e.code, ""),
                    e.count,
                    e.first.isoformat(),
                    e.last.isoformat(),
                    _advice(e),
                ]
            )
        return out.getvalue()

    def _line(self, e: NumberEntry) -> str:
        title = self.titles.get(e.code, "")
        return (
            f"{self._number(e.number)} · {e.code} {title}, {e.count} time(s) · "
            f"first {utc(e.first)}, last {utc(e.last)} · {_advice(e)}"
        )

    def _shown(self, entries: tuple) -> tuple:  # type: ignore[type-arg]
        return entries if self.full else entries[:SHOWN]

    def _more(self, count: int) -> tuple[str, ...]:
        if self.full or count <= SHOWN:
            return ()
        return (f"… and {count - SHOWN} more: `python -m bot hygiene --csv` lists them all.",)

    def _number(self, number: str) -> str:
        return number if self.full else mask_numbers_in(number)


def _advice(e: NumberEntry) -> str:
    if e.code in DEFINITIVE:
        return DEFINITIVE[e.code]
    return "likely out of service: confirm (Lookup, another channel) before sending again"
