"""Migrations: the store's tables, created and changed by numbered steps, in order.

Append only: a migration that has run on someone's file must never change. Each takes
the sqlite-utils Database the store opened; `migrate` runs the ones a file has not had.
"""

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.store.encoding import iso

if TYPE_CHECKING:  # only the store imports sqlite-utils; this module just gets its Database
    import sqlite_utils

MOMENT = "coalesce(date_sent, date_created)"


def iso_or_none(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None


def _create_dictionary(db: "sqlite_utils.Database") -> None:
    db.table("dictionary").create(
        {
            "code": int,
            "title": str,
            "description": str,
            "causes": str,  # JSON list
            "solutions": str,  # JSON list
            "log_level": str,
            "log_type": str,
            "product": str,
            "last_updated": str,
            "imported_on": str,
        },
        pk="code",
    )


def _create_messages(db: "sqlite_utils.Database") -> None:
    messages = db.table("messages")
    messages.create(
        {
            "sid": str,
            "status": str,
            "to": str,
            "from_": str,
            "direction": str,
            "error_code": int,
            "messaging_service_sid": str,
            "num_segments": int,
            "price": str,
            "date_created": str,  # ISO 8601 UTC, so text order is time order
            "date_sent": str,
            "date_updated": str,
        },
        pk="sid",
    )
    messages.create_index(["to", "date_sent"])
    messages.create_index(["date_sent"])


def _create_lookups(db: "sqlite_utils.Database") -> None:
    db.table("lookups").create(
        {
            "phone_number": str,
            "valid": int,
            "validation_errors": str,  # JSON list
            "national_format": str,
            "country_code": str,
            "line_type": str,
            "carrier_name": str,
            "mobile_country_code": str,
            "mobile_network_code": str,
            "line_type_error": int,
            "looked_up_at": str,
        },
        pk="phone_number",
    )
    # One row per paid lookup, for the per-user hourly limit.
    uses = db.table("lookup_uses")
    uses.create({"asker": str, "at": str})
    uses.create_index(["asker", "at"])


def _create_watcher(db: "sqlite_utils.Database") -> None:
    db.table("incidents").create(
        {
            "id": int,
            "key": str,  # account + code + scope; at most one unresolved row per key
            "code": int,
            "severity": str,
            "opened_at": str,
            "updated_at": str,
            "quiet": int,
            "resolved_at": str,
            "acknowledged_by": str,
            "muted_until": str,
            "peak_rate": float,
            "channel": str,  # where its Slack message is, once posted
            "ts": str,
            "shown": str,  # hash of what the Slack message shows, to skip needless edits
        },
        pk="id",
    )
    db.table("incidents").create_index(["key", "resolved_at"])
    # Every Slack post goes through here, so none is lost or sent twice.
    db.table("outbox").create(
        {
            "id": int,
            "incident_id": int,
            "kind": str,  # "post" (the incident's message), "update" (edit it), "reply"
            "channel": str,
            "text": str,
            "blocks": str,  # JSON
            "created_at": str,
            "attempts": int,
            "last_error": str,
            "sent_at": str,
        },
        pk="id",
    )
    db.table("outbox").create_index(["sent_at"])
    db.table("poll_state").create({"name": str, "value": str}, pk="name")
    db.table("messages").create_index(["date_created"])  # retention deletes by it


def _add_incident_readings(db: "sqlite_utils.Database") -> None:
    # The reading an incident was last shown with, so a button can redraw it at once.
    db.table("incidents").add_column("reading", str)


def _index_moments(db: "sqlite_utils.Database") -> None:
    # A message's moment is when it was sent, or created if it never was (`failed` ones).
    db.execute(f"create index if not exists messages_moment on messages({MOMENT})")
    # At most one unresolved incident per key, even with two pollers on one file; two
    # pollers before this could have opened two, so the older ones are closed first.
    db.execute(
        "update incidents set resolved_at = updated_at where resolved_at is null and id not in "
        "(select max(id) from incidents where resolved_at is null group by key)"
    )
    db.execute(
        "create unique index if not exists incidents_one_open on incidents(key) "
        "where resolved_at is null"
    )


def _roll_up_hours(db: "sqlite_utils.Database") -> None:
    # Detection reads the last hour by moment, only these columns: an index that covers
    # them answers without touching the table (bench/detection.py). The date_sent index
    # served no query.
    db.execute("drop index if exists messages_moment")
    db.execute("drop index if exists idx_messages_date_sent")
    db.execute(
        f"create index if not exists messages_moment_final on messages({MOMENT}, direction, "
        "status, error_code)"
    )
    db.execute(
        "create table if not exists message_hours (hour text not null, error_code integer "
        "not null, final integer not null, primary key (hour, error_code))"
    )


def _mark_posts_sending(db: "sqlite_utils.Database") -> None:
    # Set while a post is on its way to Slack: a change queued meanwhile must not be
    # merged into it (or replace it) and then be marked sent with it, never having gone.
    db.table("outbox").add_column("sending", int)


def _remember_clicks(db: "sqlite_utils.Database") -> None:
    # One row per button click handled, so a click Slack (or anyone) sends again is
    # recognised and has no second effect.
    db.execute("create table if not exists clicks (key text primary key, at text not null)")


def _remember_carrier_decisions(db: "sqlite_utils.Database") -> None:
    # RawDlrDoneDate of the last StatusCallback that set a final status, as Twilio sent it
    # (YYMMDDhhmm, in the carrier's own time zone): only comparable with another of its own.
    db.table("messages").add_column("dlr_done", str)


def _index_failures(db: "sqlite_utils.Database") -> None:
    # Detection counts each watched code's failures of the last hour: this index holds only
    # messages with an error, so a code that is not failing costs nothing to count and one
    # that is costs its own rows, not the whole window's (bench/detection.py --spike).
    db.execute(
        f"create index if not exists messages_failed on messages(error_code, {MOMENT}, "
        "direction, status) where error_code is not null"
    )


def _claim_posts(db: "sqlite_utils.Database") -> None:
    # Several processes may deliver: a post is claimed when, and under which lease token,
    # so a claim outlives neither CLAIM_SECONDS nor the lease's holder.
    db.table("outbox").add_column("claimed_at", str)
    db.table("outbox").add_column("claim_token", int)


def _name_claims(db: "sqlite_utils.Database") -> None:
    # Which claim a post is under, so only its claimant gives it back.
    db.table("outbox").add_column("claim_id", str)


def _segment_messages(db: "sqlite_utils.Database") -> None:
    # Detection per segment: each message's country (from its number) and carrier (from
    # the lookup cache) as it was stored; messages stored before have neither, and age
    # out. The rollup gains the segments and the counts of sent and delivered messages:
    # it is a cache, counted again as baselines need it.
    db.table("messages").add_column("country", str)
    db.table("messages").add_column("carrier", str)
    db.execute("drop table if exists message_hours")
    db.execute(
        "create table message_hours (hour text not null, kind text not null, segment text "
        "not null, error_code integer not null, messages integer not null, "
        "primary key (hour, kind, segment, error_code))"
    )


def _mute_segments(db: "sqlite_utils.Database") -> None:
    # A code's segment left out of detection until a moment; muted again, the same row.
    # AUTOINCREMENT: an Unmute button on an old status reply must not end a later mute
    # that took a reused id.
    db.execute(
        "create table segment_mutes (id integer primary key autoincrement, code integer not null, "
        "kind text not null, segment text not null, until text not null, muted_by text "
        "not null, muted_at text not null, unique (code, kind, segment))"
    )


def _stream_events(db: "sqlite_utils.Database") -> None:
    # Event Streams: each CloudEvent id once (Twilio delivers at least once, retrying for
    # up to 4 hours), and when the change that set a message's status happened, so a
    # late event never undoes a later one.
    db.table("messages").add_column("status_at", str)
    db.execute("create table stream_events (id text primary key, received text not null)")
    db.execute("create index stream_events_received on stream_events (received)")


def _account_messages(db: "sqlite_utils.Database") -> None:
    # Which account (or subaccount) sent each message; those stored before say nothing.
    db.table("messages").add_column("account_sid", str)


def _account_hours(db: "sqlite_utils.Database") -> None:
    # The rollup gains each account's rows (detection per subaccount): it is a cache,
    # counted again as baselines need it.
    db.execute("delete from message_hours")


MIGRATIONS: list[tuple[str, Callable[["sqlite_utils.Database"], None]]] = [
    ("0001_dictionary", _create_dictionary),
    ("0002_messages", _create_messages),
    ("0003_lookups", _create_lookups),
    ("0004_watcher", _create_watcher),
    ("0005_incident_readings", _add_incident_readings),
    ("0006_moments", _index_moments),
    ("0007_hours", _roll_up_hours),
    ("0008_outbox_sending", _mark_posts_sending),
    ("0009_clicks", _remember_clicks),
    ("0010_dlr_done", _remember_carrier_decisions),
    ("0011_failures", _index_failures),
    ("0012_outbox_claims", _claim_posts),
    ("0013_claim_ids", _name_claims),
    ("0014_segments", _segment_messages),
    ("0015_segment_mutes", _mute_segments),
    ("0016_stream_events", _stream_events),
    ("0017_message_accounts", _account_messages),
    ("0018_account_hours", _account_hours),
]


def migrate(db: "sqlite_utils.Database", upto: int | None = None) -> list[str]:
    """Bring the file up to date: run, in order, each migration it has not had (only the
    first `upto`, to make a file as an older version left it). Returns those run."""
    applied = db.table("_migrations")
    if not applied.exists():
        applied.create({"name": str}, pk="name")
    done = {row["name"] for row in applied.rows}
    ran = []
    for name, step in MIGRATIONS[:upto]:
        if name not in done:
            with db.atomic():
                step(db)
                applied.insert({"name": name})
            ran.append(name)
    return ran
