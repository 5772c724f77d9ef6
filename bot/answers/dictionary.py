"""Dictionary: reading Twilio's published error dictionary (twilio-error-codes.json).

The file is a JSON list of objects (`code`, `message`, `description`, `causes`,
`solutions`, `docs`, `last_updated`, ...) whose text is Markdown with CRLF line ends;
older codes keep causes and solutions only inside `docs`. This module turns it into
plain `ImportedEntry` values and does no I/O.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.errors import DictionaryError

TWILIO_DOCS_ORIGIN = "https://www.twilio.com"
DICTIONARY_URL = f"{TWILIO_DOCS_ORIGIN}/docs/api/errors/twilio-error-codes.json"

_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)[^)]*\)")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^\s*(?:[-*+\u2022]|\d+[.)])\s+")


@dataclass(frozen=True)
class ImportedEntry:
    code: int
    title: str
    description: str
    causes: tuple[str, ...]
    solutions: tuple[str, ...]
    log_level: str
    log_type: str
    product: str
    last_updated: str
    imported_on: str


@dataclass(frozen=True)
class ParsedDictionary:
    entries: list[ImportedEntry]
    skipped: int


def parse(document: Any, imported_on: str) -> ParsedDictionary:
    """Entries from a decoded dictionary; where a code repeats, the newest `last_updated` wins."""
    if not isinstance(document, list):
        raise DictionaryError("expected a JSON list of error entries")
    newest: dict[int, ImportedEntry] = {}
    skipped = 0
    for item in document:
        entry = _entry(item, imported_on)
        if entry is None:
            skipped += 1
            continue
        held = newest.get(entry.code)
        if held is None or entry.last_updated >= held.last_updated:
            newest[entry.code] = entry
    if not newest:
        raise DictionaryError("no usable error entries in the file")
    return ParsedDictionary(sorted(newest.values(), key=lambda e: e.code), skipped)


def _entry(item: Any, imported_on: str) -> ImportedEntry | None:
    if not isinstance(item, dict):
        return None
    code, title = item.get("code"), item.get("message")
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    if not isinstance(code, int) or isinstance(code, bool) or not isinstance(title, str):
        return None
    docs = _text(item.get("docs"))
    causes = _items(_text(item.get("causes"))) or _items(_docs_section(docs, "cause"))
    solutions = _items(_text(item.get("solutions"))) or _items(_docs_section(docs, "solution"))
    description = (
        _text(item.get("description"))
        or _text(item.get("secondary_message"))
        or _first_paragraph(docs)
    )
    return ImportedEntry(
        code=code,
        title=clean_markdown(title).strip(),
        description=clean_markdown(description),
        causes=causes,
        solutions=solutions,
        log_level=_text(item.get("log_level")),
        log_type=_text(item.get("log_type")),
        product=_text(item.get("product")),
        # ISO 8601 strings in the published file, so they order correctly as text.
        last_updated=_text(item.get("last_updated")),
        imported_on=imported_on,
    )


def _text(value: Any) -> str:
    return value.replace("\r\n", "\n").replace("\r", "\n").strip() if isinstance(value, str) else ""


def clean_markdown(text: str) -> str:
    """Markdown and HTML to plain text that reads well in a terminal and in Slack."""
    text = _LINK.sub(lambda m: _link_text(m.group(1), m.group(2)), text)
    text = _TAG.sub("", text)
    text = text.replace("**", "").replace("__", "")
    lines = []
    for line in text.split("\n"):
        heading = _HEADING.match(line)
        lines.append(heading.group(1) if heading else line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _link_text(label: str, url: str) -> str:
    if url.startswith("/"):
        url = TWILIO_DOCS_ORIGIN + url
    label = label.strip()
    return f"{label} ({url})" if label and label != url else url


def _items(text: str) -> tuple[str, ...]:
    """A bulleted or numbered list becomes its items; prose becomes its paragraphs."""
    if not text:
        return ()
    lines = text.split("\n")
    if any(_ITEM.match(line) for line in lines):
        items: list[str] = []
        for line in lines:
            if _ITEM.match(line):
                items.append(_ITEM.sub("", line))
            elif line.strip() and items:
                items[-1] += " " + line.strip()
            elif line.strip():
                items.append(line.strip())
        found: Iterable[str] = items
    else:
        found = text.split("\n\n")
    return tuple(c for c in (clean_markdown(i) for i in found) if c)


def _docs_section(docs: str, word: str) -> str:
    """The body under the first heading of `docs` that mentions `word` ("cause", "solution")."""
    body: list[str] = []
    inside = False
    for line in docs.split("\n"):
        heading = _HEADING.match(line)
        if heading:
            if inside:
                break
            inside = word in heading.group(1).lower()
        elif inside:
            body.append(line)
    return "\n".join(body).strip()


def _first_paragraph(docs: str) -> str:
    for paragraph in docs.split("\n\n"):
        if paragraph.strip() and not _HEADING.match(paragraph.strip().split("\n")[0]):
            return paragraph.strip()
    return ""
