"""Knowledge: what a Twilio error code means and what to do about it.

Curated entries (one TOML file per code in `knowledge/`, written in the project's own
words) win over entries imported from Twilio's error dictionary; a code known to neither
still gets an answer with Twilio's link. Pure: values (and a function that finds an
imported entry) in, `Explanation` out.
"""

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.dictionary import ImportedEntry
from bot.errors import KnowledgeError

APPEARS_AS = {
    "api": "Refused by the API (HTTP 4xx): no message record, nothing sent",
    "failed": "Message status `failed`: it never left Twilio",
    "undelivered": "Message status `undelivered`: the carrier's receipt says it did not arrive",
    "warning": "A warning in Twilio's Debugger: the message itself is not failed by it",
}
RETRY = {
    "no": "No: the same request fails again until something is changed",
    "yes": "Yes, with backoff",
    "later": "Later: it can go through after a wait",
    "none": "Nothing to retry: no message failed because of it",
}
REQUIRED_KEYS = {"code", "title", "appears_as", "meaning", "causes", "fixes", "retry", "related"}
OPTIONAL_KEYS = {"retry_advice", "prevention", "escalation"}

# Since 30 Sep 2024 Twilio charges $0.001 for most `failed` messages but waives it for
# these codes (Twilio support, "Failed Message Processing Fees").
FAILED_FEE_WAIVED = frozenset(
    {12400, 20500, 20504, 21408, 30002, 30008, 30036, 30103, 30450, 30454, 30500}
)


def twilio_link(code: int) -> str:
    return f"https://www.twilio.com/docs/api/errors/{code}"


@dataclass(frozen=True)
class Entry:
    """A curated knowledge file, validated."""

    code: int
    title: str
    appears_as: tuple[str, ...]
    meaning: str
    causes: tuple[str, ...]
    fixes: tuple[str, ...]
    retry: str
    related: tuple[int, ...]
    retry_advice: str = ""
    prevention: tuple[str, ...] = ()
    escalation: str = ""


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
    appears_as: tuple[str, ...] = ()
    retry: str = ""
    billing: str = ""
    causes: tuple[str, ...] = ()
    fixes: tuple[str, ...] = ()
    prevention: tuple[str, ...] = ()
    escalation: str = ""
    related: tuple[int, ...] = ()

    @property
    def heading(self) -> str:
        return f"{self.code} · {self.title}" if self.title else f"Error {self.code}"

    def facts(self) -> list[tuple[str, str]]:
        """Short labelled facts shown before the sections."""
        shows_up = "\n".join(APPEARS_AS[a] for a in self.appears_as)
        pairs = [("Shows up as", shows_up), ("Retry helps?", self.retry), ("Billed?", self.billing)]
        return [(label, value) for label, value in pairs if value]

    def sections(self) -> list[Section]:
        """The body, in reading order; renderers lay these out for Slack or a terminal."""
        found = [
            Section("What it means", (self.meaning,)),
            Section("Likely causes, most likely first", self.causes, numbered=True),
            Section("What to do, in order", self.fixes, numbered=True),
            Section("Prevent it", self.prevention),
            Section("When to escalate", (self.escalation,) if self.escalation else ()),
        ]
        return [s for s in found if any(s.items)]


def parse_entry(data: Mapping[str, Any], where: str) -> Entry:
    """Validate one knowledge file's data; KnowledgeError says what is wrong and where."""

    def fail(problem: str) -> KnowledgeError:
        return KnowledgeError(f"{where}: {problem}")

    keys = set(data)
    if missing := REQUIRED_KEYS - keys:
        raise fail(f"missing {', '.join(sorted(missing))}")
    if unknown := keys - REQUIRED_KEYS - OPTIONAL_KEYS:
        raise fail(f"unknown keys {', '.join(sorted(unknown))}")
    if not isinstance(data["code"], int) or isinstance(data["code"], bool):
        raise fail("code must be an integer")
    for key in ("title", "meaning", "retry", "retry_advice", "escalation"):
        if key in data:
            _check_text(data[key], f"{key}", fail)
    for key in ("appears_as", "causes", "fixes", "prevention"):
        if key in data:
            if not isinstance(data[key], list) or not data[key]:
                raise fail(f"{key} must be a non-empty list")
            for i, item in enumerate(data[key]):
                _check_text(item, f"{key}[{i}]", fail)
    if bad := [a for a in data["appears_as"] if a not in APPEARS_AS]:
        raise fail(f"appears_as has {bad}; allowed: {', '.join(APPEARS_AS)}")
    if data["retry"] not in RETRY:
        raise fail(f"retry must be one of {', '.join(RETRY)}")
    if data["retry"] == "none" and data["appears_as"] != ["warning"]:
        raise fail('retry "none" is only for codes that appear as warnings alone')
    related = data["related"]
    if not isinstance(related, list) or not all(
        isinstance(c, int) and not isinstance(c, bool) for c in related
    ):
        raise fail("related must be a list of integer codes")
    if data["code"] in related:
        raise fail("related lists the entry's own code")
    return Entry(
        code=data["code"],
        title=data["title"],
        appears_as=tuple(data["appears_as"]),
        meaning=data["meaning"].strip(),
        causes=tuple(data["causes"]),
        fixes=tuple(data["fixes"]),
        retry=data["retry"],
        related=tuple(related),
        retry_advice=data.get("retry_advice", ""),
        prevention=tuple(data.get("prevention", ())),
        escalation=data.get("escalation", ""),
    )


def _check_text(value: object, key: str, fail: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise fail(f"{key} must be non-empty text")
    # Curated text is shown in Slack mrkdwn and in terminals alike: angle brackets
    # would be read by Slack as links or mentions.
    if "<" in value or ">" in value:
        raise fail(f"{key} contains < or >")


def curated_directory() -> Path:
    """Where the curated files are: inside the installed wheel, else in the checkout."""
    packaged = Path(__file__).parent / "_knowledge"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "knowledge"


def load_curated(directory: Path) -> dict[int, Entry]:
    """Read and validate every `<code>.toml` in `directory`."""
    entries = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise KnowledgeError(f"{path.name}: not valid TOML: {exc}") from exc
        entry = parse_entry(data, path.name)
        if path.stem != str(entry.code):
            raise KnowledgeError(f"{path.name}: holds code {entry.code}")
        entries[entry.code] = entry
    if not entries:
        raise KnowledgeError(f"no knowledge files in {directory}")
    return entries


def billing(code: int, appears_as: tuple[str, ...]) -> str:
    """Whether Twilio charges, for each place the code shows up."""
    parts = []
    if "api" in appears_as:
        parts.append("A refused API request is not billed.")
    if "failed" in appears_as:
        if code in FAILED_FEE_WAIVED:
            parts.append("A `failed` message with this code is not charged.")
        else:
            parts.append(
                "A `failed` message has no carrier charge, but since 30 Sep 2024 Twilio adds "
                "a $0.001 processing fee to most outbound ones."
            )
    if "undelivered" in appears_as:
        parts.append("An `undelivered` message is billed: delivery was attempted.")
    return " ".join(parts) or "Not by itself: it is a warning."


def explain(
    code: int,
    curated: Mapping[int, Entry],
    imported: Callable[[int], ImportedEntry | None] = lambda code: None,
) -> Explanation:
    """The best explanation we have for `code`: curated, then imported (`imported` is
    asked only for a code the curated set lacks), then a pointer to Twilio's page."""
    if entry := curated.get(code):
        retry = RETRY[entry.retry]
        if entry.retry_advice:
            retry = f"{retry}. {entry.retry_advice}"
        return Explanation(
            code=code,
            title=entry.title,
            link=twilio_link(code),
            source="this bot's knowledge base",
            meaning=entry.meaning,
            appears_as=entry.appears_as,
            retry=retry,
            billing=billing(code, entry.appears_as),
            causes=entry.causes,
            fixes=entry.fixes,
            prevention=entry.prevention,
            escalation=entry.escalation,
            related=entry.related,
        )
    if (found := imported(code)) is not None:
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
