"""Curated: the knowledge files, one TOML file per code in `knowledge/`, read and checked.

The schema lives here: which keys a file has, which values each may take, where its facts
were checked (Twilio's own pages, and the day), and the team's policy numbers it names as
`{placeholders}`, filled from settings as it is read. Pure, but for reading the files.
"""

import datetime
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.domain import policy
from bot.domain.policy import Policy
from bot.errors import KnowledgeError

APPEARS_AS = ("api", "failed", "undelivered", "log")  # log: an Error Logs event only
REPORTERS = ("carrier", "twilio", "either")  # who stopped the message: either is both
DIRECTIONS = ("outbound", "inbound")
LEVELS = ("error", "warning")  # Twilio's log level for the code
# Where a fact is checked: Twilio's own pages, nothing else. No `|`, `<` or `>`, so a
# source can sit in a Slack link as it is.
SOURCE = re.compile(r"https://(www\.twilio\.com|help\.twilio\.com)/[A-Za-z0-9/._~%#?=&-]+")
RETRY = {
    "no": "No: the same request fails again until something is changed",
    "yes": "Yes, with backoff",
    "later": "Later: it can go through after a wait",
    "none": "Nothing to retry: no message fails because of it",
}
REQUIRED_KEYS = {
    "code",
    "title",
    "appears_as",
    "reporter",
    "direction",
    "level",
    "meaning",
    "causes",
    "fixes",
    "retry",
    "related",
    "sources",
    "checked",
}
OPTIONAL_KEYS = {"retry_advice", "prevention", "escalation", "policy", "checked_against"}
# What the check could read: Twilio's pages, or, where the code's page was not to be had,
# the text of Twilio's error dictionary for it.
CHECKED_AGAINST = ("pages", "dictionary")


def twilio_link(code: int) -> str:
    return f"https://www.twilio.com/docs/api/errors/{code}"


@dataclass(frozen=True)
class Entry:
    """A curated knowledge file, validated, its policy placeholders filled."""

    code: int
    title: str
    appears_as: tuple[str, ...]
    reporter: str
    direction: str
    level: str
    meaning: str
    causes: tuple[str, ...]
    fixes: tuple[str, ...]
    retry: str
    related: tuple[int, ...]
    sources: tuple[str, ...]
    checked: datetime.date
    retry_advice: str = ""
    prevention: tuple[str, ...] = ()
    escalation: str = ""
    policy: tuple[str, ...] = ()
    checked_against: str = "pages"

    def shows_up(self) -> tuple[str, ...]:
        """Where the code is seen, one line each, true to who reports it and which way the
        message went: only a carrier writes a receipt, and an incoming message was never
        Twilio's to send."""
        lines = []
        for place in self.appears_as:
            if place == "api":
                lines.append("Refused by the API (HTTP 4xx): no message record, nothing sent")
            elif place == "failed" and self.direction == "inbound":
                lines.append(
                    "An incoming message with status `failed`: Twilio received it and held "
                    "it back from your app"
                )
            elif place == "failed" and self.reporter == "carrier":
                lines.append(
                    "Message status `failed`: refused on its way to the carrier, so it never "
                    "reached the handset"
                )
            elif place == "failed":
                lines.append("Message status `failed`: Twilio did not send it to any carrier")
            elif place == "undelivered" and self.reporter == "either":
                lines.append(
                    "Message status `undelivered`: a carrier's filter or Twilio's own stopped it"
                )
            elif place == "undelivered" and self.reporter == "twilio":
                lines.append(
                    "Message status `undelivered`: Twilio itself stopped it; no carrier "
                    "delivery was attempted"
                )
            elif place == "undelivered":
                lines.append(
                    "Message status `undelivered`: the carrier's receipt says it did not arrive"
                )
            elif self.appears_as == ("log",):
                lines.append(f"{self._logged()}: no message fails because of it")
            else:
                lines.append(self._logged())
        return tuple(lines)

    def _logged(self) -> str:
        return ("An error" if self.level == "error" else "A warning") + " in Twilio's Error Logs"


def parse_entry(data: Mapping[str, Any], where: str, rules: Policy) -> Entry:
    """Validate one knowledge file's data and fill its policy numbers from `rules`;
    KnowledgeError says what is wrong and where."""

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
    for key in ("appears_as", "causes", "fixes", "prevention", "sources", "policy"):
        if key in data:
            if not isinstance(data[key], list) or not data[key]:
                raise fail(f"{key} must be a non-empty list")
            for i, item in enumerate(data[key]):
                _check_text(item, f"{key}[{i}]", fail)
    for key, allowed in (
        ("appears_as", APPEARS_AS),
        ("reporter", REPORTERS),
        ("direction", DIRECTIONS),
        ("level", LEVELS),
    ):
        values = data[key] if isinstance(data[key], list) else [data[key]]
        if bad := [v for v in values if v not in allowed]:
            raise fail(f"{key} has {bad}; allowed: {', '.join(allowed)}")
    if data.get("checked_against", "pages") not in CHECKED_AGAINST:
        raise fail(f"checked_against must be one of {', '.join(CHECKED_AGAINST)}")
    if data["retry"] not in RETRY:
        raise fail(f"retry must be one of {', '.join(RETRY)}")
    # An event that fails no message leaves nothing to retry, and only it.
    if (data["retry"] == "none") != (data["appears_as"] == ["log"]):
        raise fail('retry "none" is for codes that appear in the logs alone, and they need it')
    related = data["related"]
    if not isinstance(related, list) or not all(
        isinstance(c, int) and not isinstance(c, bool) for c in related
    ):
        raise fail("related must be a list of integer codes")
    if data["code"] in related:
        raise fail("related lists the entry's own code")
    if bad := [url for url in data["sources"] if not SOURCE.fullmatch(url)]:
        raise fail(f"sources must be pages on twilio.com or help.twilio.com, not {bad}")
    if twilio_link(data["code"]) not in data["sources"]:
        raise fail(f"sources must include Twilio's page for the code, {twilio_link(data['code'])}")
    if not isinstance(data["checked"], datetime.date) or isinstance(
        data["checked"], datetime.datetime
    ):
        raise fail("checked must be a date, like 2026-12-02")
    texts = {key: data[key] for key in ("meaning", "retry_advice", "escalation") if key in data}
    for key in ("causes", "fixes", "prevention", "policy"):
        texts.update({f"{key}[{i}]": text for i, text in enumerate(data.get(key, ()))})
    for key, text in texts.items():
        try:
            names = policy.placeholders(text)
        except ValueError as exc:
            raise fail(f"{key}: {exc}") from exc
        if names - policy.PLACEHOLDERS:
            raise fail(f"{key} names unknown policy values {sorted(names - policy.PLACEHOLDERS)}")
        if names and not key.startswith("policy"):
            raise fail(f"{key} uses policy values: they belong in `policy`, labelled as such")

    def filled(items: Any) -> tuple[str, ...]:
        return tuple(policy.fill(item, rules) for item in items)

    return Entry(
        code=data["code"],
        title=data["title"],
        appears_as=tuple(data["appears_as"]),
        reporter=data["reporter"],
        direction=data["direction"],
        level=data["level"],
        meaning=data["meaning"].strip(),
        causes=tuple(data["causes"]),
        fixes=tuple(data["fixes"]),
        retry=data["retry"],
        related=tuple(related),
        sources=tuple(data["sources"]),
        checked=data["checked"],
        retry_advice=data.get("retry_advice", ""),
        prevention=tuple(data.get("prevention", ())),
        escalation=data.get("escalation", ""),
        policy=filled(data.get("policy", ())),
        checked_against=data.get("checked_against", "pages"),
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
    package = Path(__file__).parents[1]  # bot/
    packaged = package / "_knowledge"
    return packaged if packaged.is_dir() else package.parent / "knowledge"


def load_curated(directory: Path, rules: Policy) -> dict[int, Entry]:
    """Read and validate every `<code>.toml` in `directory`, with the team's policy numbers."""
    entries = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise KnowledgeError(f"{path.name}: not valid TOML: {exc}") from exc
        entry = parse_entry(data, path.name, rules)
        if path.stem != str(entry.code):
            raise KnowledgeError(f"{path.name}: holds code {entry.code}")
        entries[entry.code] = entry
    if not entries:
        raise KnowledgeError(f"no knowledge files in {directory}")
    return entries
