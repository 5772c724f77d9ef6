"""Records: Twilio's JSON and twilio-python's resources read into `Message`s."""

from datetime import UTC, datetime
from typing import Any

from twilio.base import deserialize

from bot.domain.messages import Message


def message_from_json(record: dict[str, Any]) -> Message:
    """A message from one record of a Messages list page, as `_message` reads an instance."""
    segments = record.get("num_segments")
    code = record.get("error_code")
    return Message(
        sid=record["sid"],
        status=str(record.get("status") or "unknown"),
        to=record.get("to") or "",
        from_=record.get("from") or "",
        direction=str(record.get("direction") or ""),
        error_code=int(code) if code else None,
        error_message=record.get("error_message"),
        messaging_service_sid=record.get("messaging_service_sid"),
        num_segments=int(segments) if segments and str(segments).isdigit() else None,
        price=record.get("price"),
        price_unit=record.get("price_unit"),
        date_created=rfc2822(record.get("date_created")),
        date_sent=rfc2822(record.get("date_sent")),
        date_updated=rfc2822(record.get("date_updated")),
        account_sid=record.get("account_sid") or None,
    )


_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def rfc2822(text: str | None) -> datetime | None:
    """Twilio's dates ("Mon, 23 Nov 2026 10:00:00 +0000"), read directly when they are
    in that form (a tenth of the time `email.utils` takes), else as twilio-python would."""
    if not text:
        return None
    parts = text.split()
    if len(parts) == 6 and parts[5] == "+0000" and parts[2] in _MONTHS:
        try:
            hour, minute, second = parts[4].split(":")
            return datetime(
                int(parts[3]),
                _MONTHS[parts[2]],
                int(parts[1]),
                int(hour),
                int(minute),
                int(second),
                tzinfo=UTC,
            )
        except ValueError:
            pass
    moment = deserialize.rfc2822_datetime(text)
    return moment if isinstance(moment, datetime) else None


def message_from_resource(m: Any) -> Message:
    segments = m.num_segments
    return Message(
        sid=m.sid,
        status=str(m.status or "unknown"),
        to=m.to or "",
        from_=m.from_ or "",
        direction=str(m.direction or ""),
        error_code=int(m.error_code) if m.error_code else None,
        error_message=m.error_message,
        messaging_service_sid=m.messaging_service_sid,
        num_segments=int(segments) if segments and str(segments).isdigit() else None,
        price=m.price,
        price_unit=m.price_unit,
        date_created=m.date_created,
        date_sent=m.date_sent,
        date_updated=m.date_updated,
        account_sid=m.account_sid or None,
    )
