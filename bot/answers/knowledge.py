"""Knowledge: what a Twilio error code means and what to do about it.

Curated entries (see `curated`) win over entries imported from Twilio's error dictionary;
a code known to neither still gets an answer with Twilio's link. Pure: values (and a
function that finds an imported entry) in, `Explanation` out.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.answers.curated import RETRY, Entry, twilio_link
from bot.answers.dictionary import ImportedEntry
from bot.domain import policy

# Since 30 Sep 2024 Twilio charges $0.001 for most `failed` messages but waives it for
# these codes (help.twilio.com/articles/27502337507483, "Failed Message Processing Fees").
FAILED_FEE_WAIVED = frozenset(
    {
        *(12400, 20500, 20504, 30103, 30500, 63010, 63012),  # Twilio's own faults
        30036,  # the validity period ran out
        *(30002, 30454, 63038, 90010),  # suspension, trial and fraud limits
        30450,  # SMS pumping protection
        21408,  # Geo Permissions
        *(63013, 63018, 63021, 63024, 63032),  # WhatsApp limits set by Meta
        30008,
    }
)


@dataclass(frozen=True)
class Section:
    heading: str
    items: tuple[str, ...]
    numbered: bool = False


@dataclass(frozen=True)
class Explanation:
    """Everything the bot says about one code, whatever its source. Empty fields are not shown."""

    code: int
    title: str
    link: str
    source: str
    known: bool = True
    meaning: str = ""
    shows_up: tuple[str, ...] = ()
    retry: str = ""
    billing: str = ""
    causes: tuple[str, ...] = ()
    fixes: tuple[str, ...] = ()
    prevention: tuple[str, ...] = ()
    escalation: str = ""
    policy: tuple[str, ...] = ()
    related: tuple[int, ...] = ()
    sources: tuple[str, ...] = ()  # Twilio's pages the curated text rests on
    checked: str = ""  # the day they were last checked, ISO 8601

    @property
    def heading(self) -> str:
        return f"{self.code} · {self.title}" if self.title else f"Error {self.code}"

    def facts(self) -> list[tuple[str, str]]:
        """Short labelled facts shown before the sections."""
        pairs = [
            ("Shows up as", "\n".join(self.shows_up)),
            ("Retry helps?", self.retry),
            ("Billed?", self.billing),
        ]
        return [(label, value) for label, value in pairs if value]

    def sections(self) -> list[Section]:
        """The body, in reading order; renderers lay these out for Slack or a terminal."""
        found = [
            Section("What it means", (self.meaning,)),
            Section("Likely causes, most likely first", self.causes, numbered=True),
            Section("What to do, in order", self.fixes, numbered=True),
            Section(policy.LABEL, self.policy),
            Section("Prevent it", self.prevention),
            Section("When to escalate", (self.escalation,) if self.escalation else ()),
        ]
        return [s for s in found if any(s.items)]


def source_label(url: str) -> str:
    """A short name for one of Twilio's pages, for a link."""
    if match := re.search(r"/docs/api/errors/(\d+)", url):
        return f"Twilio error {match.group(1)}"
    if url.startswith("https://help.twilio.com/"):
        return "Twilio Help Center"
    return "Twilio docs"


def billing(entry: Entry) -> str:
    """Whether Twilio charges, for each place the code shows up."""
    if entry.direction == "inbound":
        return ""  # incoming messages are priced as received; this bot makes no claim on them
    parts = []
    if "api" in entry.appears_as:
        parts.append("A refused API request is not billed.")
    if "failed" in entry.appears_as:
        if entry.code in FAILED_FEE_WAIVED:
            parts.append("A `failed` message with this code is not charged.")
        else:
            parts.append(
                "A `failed` message has no carrier charge, but since 30 Sep 2024 Twilio adds "
                "a $0.001 processing fee to most outbound ones."
            )
    if "undelivered" in entry.appears_as:
        if entry.reporter == "carrier":
            parts.append("An `undelivered` message is billed: delivery was attempted.")
        elif entry.reporter == "either":
            parts.append(
                "An `undelivered` message is billed as sent, whoever stopped it (Twilio says "
                "so of blocked toll-free traffic)."
            )
        else:
            parts.append(
                "An `undelivered` message is normally billed as sent; the pages checked do "
                "not say whether Twilio waives that when it stopped the message itself."
            )
    return " ".join(parts) or "Not by itself: no message fails because of it."


def explain(
    code: int, curated: Mapping[int, Entry], imported: ImportedEntry | None = None
) -> Explanation:
    """The best explanation we have for `code`: curated, then `imported` (the dictionary's
    entry for it, if the store has one), then a pointer to Twilio's page."""
    if entry := curated.get(code):
        retry = RETRY[entry.retry]
        if entry.direction == "inbound":
            retry = "Nothing for you to send again: the message came in to your number"
        if entry.retry_advice:
            retry = f"{retry}. {entry.retry_advice}"
        checked = f"checked {entry.checked.isoformat()}"
        if entry.checked_against == "dictionary":
            checked += " against Twilio's error dictionary (its page was not to be had)"
        return Explanation(
            code=code,
            title=entry.title,
            link=twilio_link(code),
            source=f"this bot's knowledge base, {checked}",
            meaning=entry.meaning,
            shows_up=entry.shows_up(),
            retry=retry,
            billing=billing(entry),
            causes=entry.causes,
            fixes=entry.fixes,
            prevention=entry.prevention,
            escalation=entry.escalation,
            policy=entry.policy,
            related=entry.related,
            sources=entry.sources,
            checked=entry.checked.isoformat(),
        )
    if (found := imported) is not None:
        updated = f", entry updated {found.last_updated}" if found.last_updated else ""
        return Explanation(
            code=code,
            title=found.title,
            link=twilio_link(code),
            source=f"Twilio's error dictionary (imported {found.imported_on}{updated})",
            meaning=found.description,
            causes=found.causes,
            fixes=found.solutions,
        )
    return Explanation(
        code=code,
        title="",
        link=twilio_link(code),
        source="",
        known=False,
        meaning=(
            f"There is no explanation for {code} here yet. Twilio's page for it may have one. "
            "To answer for every Twilio code, run `python -m bot knowledge sync` on the bot's host."
        ),
    )
