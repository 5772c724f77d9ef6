"""Privacy: phone numbers shortened to what a channel or a log may show, and a log filter
that takes secrets and phone numbers out of every record (and control characters out of
its message)."""

import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qs, unquote, urlsplit

# E.164 (also URL-encoded, as in query strings) or a bare run of 10+ digits; dates such
# as 2010-04-01 and SIDs' hex are left alone.
_NUMBER = re.compile(r"(?:\+|%2B)\d{6,15}\b|\b\d{10,15}\b", re.IGNORECASE)


# Logs also carry numbers as people and libraries write them: `+1 202-555-0199`,
# `(202) 555-0199`, `020 7946 0958`, a form body's `%2B1+202+555+0199`. Ten to fifteen
# digits, each apart from the next by at most two separators, not inside a word.
# A regex rather than phonenumbers' matcher: that one misses form-encoded bodies and the
# national formats of other regions than one, and here a false alarm costs little.
_SEPARATOR = r"(?:[ \u00a0().\-\u2010-\u2015+]|%20|%2B|%28|%29)"
_WRITTEN = re.compile(
    rf"(?<![\w%])(?:\+|%2B)?(?:\(|%28)?\d(?:{_SEPARATOR}{{0,3}}\d){{9,14}}(?![\w])", re.IGNORECASE
)
_DATE = re.compile(r"\d{4}-\d\d-\d\d")  # `2026-11-23 17` is a moment, not a number
_SLACK_TS = re.compile(r"(?<![\d.])(\d{10}\.\d{6})(?![\d.])")  # a message's ID: kept
# A Unix time in seconds from 2017 to 2033, as in Slack's request timestamps: ten digits
# starting with 1, which no North American number written without its + does. Kept: a
# log reader needs it to see a clock that is off.
_UNIX_TIME = re.compile(r"1[5-9]\d{8}")


def url_passwords(url: str) -> list[str]:
    """The passwords a database URL holds, as written and decoded: in its user part and
    in a `password=` option (libpq takes either). What no log or answer may carry."""
    try:
        parts = urlsplit(url)
    except ValueError:  # unreadable (its brackets): the whole of it stays out
        return [url]
    # libpq reads the user part up to the last @ before the host, where urlsplit stops at
    # a # or ? already: both readings are kept out.
    authority = url.partition("://")[2].split("/")[0]
    userinfo = authority.rpartition("@")[0] if "@" in authority else ""
    found = [parts.password or "", userinfo.partition(":")[2]]
    found += parse_qs(parts.query).get("password", [])
    found += [p.partition("=")[2] for p in parts.query.split("&") if p.startswith("password=")]
    return sorted({value for text in found if text for value in (text, unquote(text))})


def mask_number(number: str) -> str:
    """`+12025550156` -> `+1•••••••156`: enough to tell numbers apart, not to dial one."""
    digits = [c for c in number if c.isdigit()]
    if len(digits) < 6:
        return "•" * len(digits)
    head = 1 if number.startswith("+") else 0
    shown_head = "+" + digits[0] if head else ""
    return shown_head + "•" * (len(digits) - head - 3) + "".join(digits[-3:])


def mask_numbers_in(text: str, keep_unix_times: bool = False) -> str:
    """Every run that looks like a phone number in `text`, masked. `keep_unix_times`, for
    logs only: a run that reads as a recent Unix time is kept (a channel masks it too)."""
    return _NUMBER.sub(
        lambda m: (
            m.group(0)
            if keep_unix_times and _UNIX_TIME.fullmatch(m.group(0))
            else mask_number(m.group(0).replace("%2B", "+").replace("%2b", "+"))
        ),
        text,
    )


def mask_written_numbers(text: str, keep_unix_times: bool = False) -> str:
    """Every run in `text` that reads as a phone number, however written, masked. Looser
    than `mask_numbers_in`, for logs, where a masked figure costs little."""

    kept, start = [], 0
    while (found := _WRITTEN.search(text, start)) is not None:
        if date := _DATE.search(found.group(0)):
            # A moment, not a number; a number may still follow it.
            end = found.start() + date.end()
            kept.append(text[start:end])
            start = end
            continue
        number = re.sub("%2B", "+", found.group(0), flags=re.IGNORECASE)
        if keep_unix_times and _UNIX_TIME.fullmatch(number):
            kept.append(text[start : found.end()])
            start = found.end()
            continue
        kept += [text[start : found.start()], mask_number(number)]
        start = found.end()
    kept.append(text[start:])
    return "".join(kept)


# Anything below a space but a tab, and DEL: a newline in a forged body must not start a
# line of its own in the log (CWE-117).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def escape_controls(text: str) -> str:
    return _CONTROL.sub(lambda m: repr(m.group(0))[1:-1], text)


WHOLE_WORD_BELOW = 8  # characters: a secret this short is redacted only as a whole word


class Redactor(logging.Filter):
    """For the bot's log handler: whoever logged a record (the bot, or a library at DEBUG
    logging a request), its secrets become `[secret]` and its phone numbers are masked."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # One pass, longest first: a secret containing another is replaced whole. A very
        # short one (a test's `s`) only where it stands alone, or every word would break.
        found = sorted({s for s in secrets if s}, key=len, reverse=True)
        alternatives = [
            re.escape(s) if len(s) >= WHOLE_WORD_BELOW else rf"(?<![\w-]){re.escape(s)}(?![\w-])"
            for s in found
        ]
        self.secrets = re.compile("|".join(alternatives)) if found else None

    def redact(self, text: str) -> str:
        if self.secrets is not None:
            text = self.secrets.sub("[secret]", text)
        # Slack message timestamps look like numbers but name messages: a log needs them.
        parts = _SLACK_TS.split(text)
        parts[::2] = [
            mask_written_numbers(mask_numbers_in(part, True), True) for part in parts[::2]
        ]
        return "".join(parts)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a logging call with the wrong arguments must not raise here
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = escape_controls(self.redact(message)), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True
