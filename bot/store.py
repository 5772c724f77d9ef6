"""Store: the bot's one SQLite file, through sqlite-utils. The only module that imports it.

Tables are created by numbered migrations on first use, so an old file is brought up to
date in place. Queries are small and synchronous; one connection per process.
"""

import json
import os
import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.db import NotFoundError

from bot import rollup
from bot.alerting import Incident
from bot.dictionary import ImportedEntry
from bot.errors import StoreError
from bot.lock import ProcessLock
from bot.messages import FINAL_STATUSES, Message, takes_report
from bot.migrations import MIGRATIONS, MOMENT, iso
from bot.outbox import Outbox
from bot.phone_numbers import Lookup
from bot.spikes import Baseline, Reading
from bot.sqlite_faults import database_problem, guard, translated

COVERAGE = "ingest_coverage"  # the span the watcher has read every message of


@dataclass(frozen=True)
class Coverage:
    """The span of time whose every message the watcher has stored, as its last ingest
    left it, and how often it reads: the span is current while cycles keep coming."""

    since: datetime
    through: datetime
    interval_seconds: float

    def covers(self, since: datetime, now: datetime) -> bool:
        """Whether [since, now] is held, give or take two missed cycles and a minute."""
        late = (now - self.through).total_seconds()
        return self.since <= since and late <= 2 * self.interval_seconds + 60


@guard
class Store:
    def __init__(self, path: str) -> None:
        self.path = path
        self._watcher = ProcessLock(None if path == ":memory:" else f"{path}-watcher.lock")
        try:
            if path != ":memory:":
                _create_private(Path(path))
            self.db = sqlite_utils.Database(path)
            self.db.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL loses nothing when the process dies, only possibly the
            # last transactions if the machine does, and spares an fsync per commit
            # (about 13 ms each, measured by bench/ingest.py).
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
            self.outbox = Outbox(self.db)
        except (sqlite3.Error, OSError) as exc:
            problem = database_problem(exc) if isinstance(exc, sqlite3.Error) else str(exc)
            raise StoreError(f"cannot use the database {path} (DATABASE_PATH): {problem}") from exc

    def atomic(self) -> AbstractContextManager[sqlite_utils.Database]:
        """One transaction for several calls (nested ones become savepoints)."""
        return translated(self.db.atomic())

    def close(self) -> None:
        self._watcher.release()
        self.db.close()

    def _migrate(self) -> None:
        applied = self.db.table("_migrations")
        if not applied.exists():
            applied.create({"name": str}, pk="name")
        done = {row["name"] for row in applied.rows}
        for name, migrate in MIGRATIONS:
            if name not in done:
                with self.db.atomic():
                    migrate(self.db)
                    applied.insert({"name": name})

    def save_dictionary(self, entries: Iterable[ImportedEntry]) -> int:
        """Store imported entries; one already held with a newer `last_updated` is kept.

        Returns how many rows were written.
        """
        table = self.db.table("dictionary")
        held = {
            row["code"]: row["last_updated"]
            for row in table.rows_where(select="code, last_updated")
        }
        rows = [
            {
                "code": e.code,
                "title": e.title,
                "description": e.description,
                "causes": json.dumps(e.causes),
                "solutions": json.dumps(e.solutions),
                "log_level": e.log_level,
                "log_type": e.log_type,
                "product": e.product,
                "last_updated": e.last_updated,
                "imported_on": e.imported_on,
            }
            for e in entries
            if e.code not in held or e.last_updated >= held[e.code]
        ]
        with self.db.atomic():
            table.upsert_all(rows, pk="code")
        return len(rows)

    def imported_entry(self, code: int) -> ImportedEntry | None:
        try:
            row = self.db.table("dictionary").get(code)
        except NotFoundError:
            return None
        return ImportedEntry(
            code=row["code"],
            title=row["title"],
            description=row["description"],
            causes=tuple(json.loads(row["causes"])),
            solutions=tuple(json.loads(row["solutions"])),
            log_level=row["log_level"],
            log_type=row["log_type"],
            product=row["product"],
            last_updated=row["last_updated"],
            imported_on=row["imported_on"],
        )

    def dictionary_size(self) -> int:
        return self.db.table("dictionary").count

    def save_messages(self, messages: Iterable[Message]) -> None:
        """Upsert by SID: a message seen twice, or seen again with a later status, is one row."""
        rows = [_message_row(m) for m in messages]
        if not rows:
            return
        with self.db.atomic():
            self.db.conn.executemany(_UPSERT_MESSAGE, [tuple(row.values()) for row in rows])
            rollup.forget(self.db.conn, _hours(rows))

    def record_status(self, message: Message, decided: str | None = None) -> bool:
        """A status report for a message: a known one keeps its dates and gains the new
        status, if `messages.takes_report` says it should; an unknown one is stored as it
        is, and the next poll fills it in. `decided` is the report's RawDlrDoneDate.
        Returns whether anything changed."""
        table = self.db.table("messages")
        with self.db.atomic():
            rows = list(table.rows_where("sid = ?", [message.sid]))
            held = _message_from_row(rows[0]) if rows else None
            held_decided = rows[0].get("dlr_done") if rows else None
            if not takes_report(held, message, decided, held_decided):
                return False
            rollup.forget(self.db.conn, _hours([*rows, _message_row(message)]))
            changes: dict[str, object] = {
                "status": message.status,
                "error_code": message.error_code,
                "date_updated": _iso(message.date_updated),
            }
            if message.status in FINAL_STATUSES:
                changes["dlr_done"] = decided
            if rows:
                table.update(message.sid, changes)
            else:
                table.insert({**_message_row(message), **changes})
        return True

    def messages_to(self, to: str, since: datetime, limit: int = 50) -> list[Message]:
        """Messages to one number sent since `since`, newest first."""
        rows = self.db.table("messages").rows_where(
            "[to] = ? and date_sent >= ?",
            [to, _iso(since)],
            order_by="date_sent desc",
            limit=limit,
        )
        return [_message_from_row(row) for row in rows]

    def save_lookup(self, lookup: Lookup, at: datetime) -> None:
        row = {f.name: getattr(lookup, f.name) for f in fields(Lookup)}
        row["validation_errors"] = json.dumps(list(lookup.validation_errors))
        row["looked_up_at"] = _iso(at)
        with self.db.atomic():
            self.db.table("lookups").upsert(row, pk="phone_number")

    def cached_lookup(self, e164: str, since: datetime) -> tuple[Lookup, datetime] | None:
        """The stored lookup of `e164` and when it was made, if made since `since`."""
        for row in self.db.table("lookups").rows_where(
            "phone_number = ? and looked_up_at >= ?", [e164, _iso(since)]
        ):
            at = datetime.fromisoformat(row.pop("looked_up_at"))
            row["valid"] = bool(row["valid"])
            row["validation_errors"] = tuple(json.loads(row["validation_errors"]))
            return Lookup(**row), at
        return None

    def lookup_uses(self, asker: str, since: datetime) -> list[datetime]:
        """When `asker` made paid lookups since `since`, oldest first."""
        rows = self.db.table("lookup_uses").rows_where(
            "asker = ? and at >= ?", [asker, _iso(since)], order_by="at"
        )
        return [datetime.fromisoformat(row["at"]) for row in rows]

    def add_lookup_use(self, asker: str, at: datetime, forget_before: datetime) -> int:
        """Count one paid lookup; uses older than `forget_before` are dropped. Returns its id."""
        uses = self.db.table("lookup_uses")
        with self.db.atomic():
            uses.delete_where("at < ?", [_iso(forget_before)])
            uses.insert({"asker": asker, "at": _iso(at)})
        assert uses.last_rowid is not None
        return uses.last_rowid

    def first_click(self, key: str, at: datetime, forget_before: datetime) -> bool:
        """Record a button click; False when it was recorded already (a replay)."""
        with self.db.atomic():
            self.db.execute("delete from clicks where at < ?", [_iso(forget_before)])
            added = self.db.execute(
                "insert or ignore into clicks (key, at) values (?, ?)", [key, _iso(at)]
            ).rowcount
        return added == 1

    def remove_lookup_use(self, use: int) -> None:
        """Take back a use whose lookup never happened (Twilio failed), so it is not charged."""
        with self.db.atomic():
            self.db.table("lookup_uses").delete_where("rowid = ?", [use])

    # -- the watcher ----------------------------------------------------------------------

    def recent_messages(self, since: datetime) -> list[Message]:
        rows = self.db.table("messages").rows_where(f"{MOMENT} >= ?", [_iso(since)])
        return [_message_from_row(row) for row in rows]

    def tally(self, since: datetime, until: datetime) -> list[tuple[datetime, int | None, int]]:
        """Final outbound messages in [since, until], counted by moment and error code,
        for `spikes.tally`: thousands of rows for an hour of a busy account, not millions."""
        rows = self.db.execute(
            f"select {MOMENT} as moment, error_code, count(*) from messages "
            f"where {MOMENT} >= ? and {MOMENT} <= ? and {rollup.FINAL_OUTBOUND} "
            "group by moment, error_code",
            [_iso(since), _iso(until)],
        ).fetchall()
        return [(datetime.fromisoformat(moment), code, count) for moment, code, count in rows]

    def earliest_moment(self) -> datetime | None:
        """When the oldest message held was sent (or created)."""
        [(moment,)] = self.db.execute(f"select min({MOMENT}) from messages").fetchall()
        return datetime.fromisoformat(moment) if moment else None

    def failing(self, codes: Iterable[int], since: datetime, until: datetime) -> list[Message]:
        """Final outbound messages in [since, until] with one of `codes`."""
        wanted = sorted(set(codes))
        rows = self.db.table("messages").rows_where(
            f"{MOMENT} >= ? and {MOMENT} <= ? and {rollup.FINAL_OUTBOUND} "
            f"and error_code in ({', '.join('?' * len(wanted))})",
            [_iso(since), _iso(until), *wanted],
        )
        return [_message_from_row(row) for row in rows]

    def baseline(self, code: int, since: datetime, until: datetime) -> Baseline:
        """`code` against all final outbound messages sent in the whole hours of
        [since, until), from the hourly rollup."""
        with self.db.atomic():
            final, failed = rollup.baseline(self.db.conn, code, since, until)
        return Baseline(final=final, failed=failed)

    def carriers(self) -> dict[str, str]:
        """Carrier by number, for the numbers the lookup cache knows."""
        rows = self.db.table("lookups").rows_where(
            "carrier_name is not null", select="phone_number, carrier_name"
        )
        return {row["phone_number"]: row["carrier_name"] for row in rows}

    def prune_messages(self, before: datetime) -> int:
        """Delete what holds a phone number and is older than `before` (RETENTION_DAYS):
        messages by creation, looked-up numbers by lookup, and the lookup uses; returns
        how many messages went."""
        moment = _iso(before)
        with self.db.atomic():
            cursor = self.db.execute("delete from messages where date_created < ?", [moment])
            rollup.forget_before(self.db.conn, before)
            self.db.execute("delete from lookups where looked_up_at < ?", [moment])
            self.db.execute("delete from lookup_uses where at < ?", [moment])
        return cursor.rowcount

    def coverage(self) -> Coverage | None:
        text = self.state(COVERAGE)
        if text is None:
            return None
        since, through, interval = json.loads(text)
        return Coverage(datetime.fromisoformat(since), datetime.fromisoformat(through), interval)

    def set_coverage(self, coverage: Coverage) -> None:
        value = [iso(coverage.since), iso(coverage.through), coverage.interval_seconds]
        self.set_state(COVERAGE, json.dumps(value))

    def state(self, name: str) -> str | None:
        try:
            return str(self.db.table("poll_state").get(name)["value"])
        except NotFoundError:
            return None

    def set_state(self, name: str, value: str) -> None:
        with self.db.atomic():
            self.db.table("poll_state").upsert({"name": name, "value": value}, pk="name")

    def take_lease(self, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Hold the watcher's lease until now + ttl, unless someone else holds it still.
        BEGIN IMMEDIATE takes SQLite's write lock first, so two processes cannot both win.

        The process also holds an OS lock beside the file (bot.lock): one that gets it
        knows the lease's holder is gone, and takes over at once instead of waiting out
        a dead holder's lease."""
        try:
            lock = self._watcher.acquire()
        except OSError as exc:
            raise StoreError(f"cannot lock {self._watcher.path}: {exc}") from exc
        if lock == "busy":
            return False
        try:
            return self._take_lease(owner, now, ttl, holder_gone=lock == "taken")
        except BaseException as exc:
            if lock == "taken":
                self._watcher.release()  # so that the next try knows the holder is gone
            if isinstance(exc, sqlite3.Error):  # "database is locked", at length; a full disk
                raise StoreError(database_problem(exc)) from exc
            raise

    def _take_lease(self, owner: str, now: datetime, ttl: timedelta, holder_gone: bool) -> bool:
        self.db.conn.execute("BEGIN IMMEDIATE")
        try:
            rows = self.db.execute("select value from poll_state where name = 'lease'").fetchall()
            if rows and rows[0][0]:
                holder, until = json.loads(rows[0][0])
                if holder != owner and datetime.fromisoformat(until) > now and not holder_gone:
                    return False
            lease = json.dumps([owner, _iso(now + ttl)])
            self.db.table("poll_state").upsert({"name": "lease", "value": lease}, pk="name")
        except BaseException:
            self.db.conn.execute("ROLLBACK")
            raise
        finally:
            if self.db.conn.in_transaction:
                self.db.conn.execute("COMMIT")
        return True

    def holds_lease(self, owner: str, now: datetime) -> bool:
        rows = self.db.execute("select value from poll_state where name = 'lease'").fetchall()
        if not rows or not rows[0][0]:
            return False
        holder, until = json.loads(rows[0][0])
        return bool(holder == owner and datetime.fromisoformat(until) > now)

    def release_lease(self, owner: str) -> None:
        with self.db.atomic():
            released = self.db.execute(
                "delete from poll_state where name = 'lease' and json_extract(value, '$[0]') = ?",
                [owner],
            ).rowcount
        if released:
            self._watcher.release()

    def open_incident(self, key: str) -> Incident | None:
        for row in self.db.table("incidents").rows_where(
            "key = ? and resolved_at is null", [key], order_by="id desc", limit=1
        ):
            return _incident(row)
        return None

    def incidents_on(self, code: int, limit: int = 20) -> list[Incident]:
        """The latest incidents on `code`, newest first."""
        rows = self.db.table("incidents").rows_where(
            "code = ?", [code], order_by="id desc", limit=limit
        )
        return [_incident(row) for row in rows]

    def open_incidents(self) -> list[Incident]:
        rows = self.db.table("incidents").rows_where("resolved_at is null", order_by="id")
        return [_incident(row) for row in rows]

    def save_incident(self, incident: Incident, reading: Reading | None = None) -> Incident:
        """Insert or update, with the reading it now shows; returns it with its row id."""
        row: dict[str, object] = {f.name: getattr(incident, f.name) for f in fields(Incident)}
        for name in ("opened_at", "updated_at", "resolved_at", "muted_until"):
            row[name] = _iso(row[name])  # type: ignore[arg-type]
        if reading is not None:
            row["reading"] = _reading_json(reading)
        table = self.db.table("incidents")
        with self.db.atomic():
            if incident.id is None:
                row.pop("id")
                table.insert(row)
                return replace(incident, id=table.last_pk)
            table.update(incident.id, row)
        return incident

    def incident(self, incident_id: int) -> tuple[Incident, Reading | None] | None:
        try:
            row = self.db.table("incidents").get(incident_id)
        except NotFoundError:
            return None
        return _incident(row), _reading(row["reading"]) if row["reading"] else None

    def messages_by_sid(self, sids: Iterable[str]) -> list[Message]:
        wanted = list(sids)
        if not wanted:
            return []
        marks = ", ".join("?" * len(wanted))
        rows = self.db.table("messages").rows_where(f"sid in ({marks})", wanted)
        return [_message_from_row(row) for row in rows]

    def incident_message(self, incident_id: int) -> tuple[str, str, str] | None:
        """(channel, ts, shown) of the incident's Slack message, once it is posted."""
        row = self.db.table("incidents").get(incident_id)
        return (row["channel"], row["ts"], row["shown"] or "") if row["ts"] else None

    def set_shown(self, incident_id: int, shown: str) -> None:
        with self.db.atomic():
            self.db.table("incidents").update(incident_id, {"shown": shown})


def _reading_json(reading: Reading) -> str:
    values = {f.name: getattr(reading, f.name) for f in fields(Reading)}
    values["since"], values["until"] = _iso(reading.since), _iso(reading.until)
    return json.dumps(values)


def _reading(text: str) -> Reading:
    values = json.loads(text)
    for name in ("since", "until"):
        values[name] = datetime.fromisoformat(values[name])
    for name in ("senders", "countries", "carriers"):
        values[name] = tuple((label, n) for label, n in values[name])
    values["samples"], values["spark"] = tuple(values["samples"]), tuple(values["spark"])
    return Reading(**values)


def _incident(row: dict[str, Any]) -> Incident:
    values = {f.name: row[f.name] for f in fields(Incident)}
    for name in ("opened_at", "updated_at", "resolved_at", "muted_until"):
        text = values[name]
        values[name] = datetime.fromisoformat(text) if text else None
    return Incident(**values)


def _iso(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None


def _message_row(m: Message) -> dict[str, object]:
    # Written out rather than built from fields(Message): a backfill calls this 100 000 times.
    return {
        "sid": m.sid,
        "status": m.status,
        "to": m.to,
        "from_": m.from_,
        "direction": m.direction,
        "error_code": m.error_code,
        "messaging_service_sid": m.messaging_service_sid,
        "num_segments": m.num_segments,
        "price": m.price,
        "date_created": _iso(m.date_created),
        "date_sent": _iso(m.date_sent),
        "date_updated": _iso(m.date_updated),
    }


def _hours(rows: Iterable[dict[str, Any]]) -> set[str]:
    """The rollup hours the messages of `rows` count in, under any moment they had."""
    moments = (row[name] for row in rows for name in ("date_created", "date_sent"))
    return {moment[:13] for moment in moments if isinstance(moment, str)}


# One prepared statement for a batch: sqlite-utils' upsert_all builds its SQL per chunk
# and costs about 50 µs a row, which a backfill of 100 000 messages feels.
_MESSAGE_COLUMNS = tuple(_message_row(Message("", "", "", "", "")))
_UPSERT_MESSAGE = (
    f"insert into messages ({', '.join(f'[{c}]' for c in _MESSAGE_COLUMNS)}) "
    f"values ({', '.join('?' * len(_MESSAGE_COLUMNS))}) on conflict(sid) do update set "
    + ", ".join(f"[{c}] = excluded.[{c}]" for c in _MESSAGE_COLUMNS if c != "sid")
)


def _message_from_row(row: dict[str, object]) -> Message:
    values = dict(row)
    values.pop("dlr_done", None)
    for name in ("date_created", "date_sent", "date_updated"):
        text = values[name]
        values[name] = datetime.fromisoformat(text) if isinstance(text, str) else None
    return Message(**values)  # type: ignore[arg-type]


def _create_private(path: Path) -> None:
    """Create the file readable by its owner only: it will hold phone numbers."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
