"""Copying: a SQLite file's state into PostgreSQL (`db copy`), so a team moving to
replicas keeps its open incidents (with the Slack messages their buttons live on), the
outbox, the lookup cache and quota, the messages and the watcher's place.

The tables are the schema's (`bot.store.schema`), at the same step on both sides: the
file is brought up to date first. Everything goes in one transaction, into a database
that holds no state yet: a copy that fails leaves nothing behind, and can be run again.
The hourly rollup is not copied: it is counted again as baselines need it.
"""

from pathlib import Path

from bot.errors import StoreError

# Each table and the columns that mean the same on both sides. Ids are kept where
# something refers to them: a Slack button carries its incident's id, a post its own.
TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "dictionary",
        (
            "code", "title", "description", "causes", "solutions", "log_level", "log_type",
            "product", "last_updated", "imported_on",
        ),
    ),
    (
        "messages",
        (
            "sid", "status", "to", "from_", "direction", "error_code", "messaging_service_sid",
            "num_segments", "price", "date_created", "date_sent", "date_updated", "dlr_done",
            "country", "carrier", "status_at", "account_sid",
        ),
    ),
    (
        "lookups",
        (
            "phone_number", "valid", "validation_errors", "national_format", "country_code",
            "line_type", "carrier_name", "mobile_country_code", "mobile_network_code",
            "line_type_error", "looked_up_at",
        ),
    ),
    ("lookup_uses", ("asker", "at")),
    (
        "incidents",
        (
            "id", "key", "code", "severity", "opened_at", "updated_at", "quiet", "resolved_at",
            "acknowledged_by", "muted_until", "peak_rate", "channel", "ts", "shown", "reading",
        ),
    ),
    (
        "outbox",
        (
            "id", "incident_id", "kind", "channel", "text", "blocks", "created_at", "attempts",
            "last_error", "sent_at", "sending",
        ),
    ),
    ("poll_state", ("name", "value")),
    ("clicks", ("key", "at")),
    ("segment_mutes", ("id", "code", "kind", "segment", "until", "muted_by", "muted_at")),
    ("stream_events", ("id", "received")),
)  # fmt: skip
BATCH_ROWS = 10_000


async def copy_sqlite_to(source: Path, database_url: str) -> dict[str, int]:
    """Copy every table of the SQLite file `source` into the PostgreSQL database at
    `database_url`; returns how many rows each table gave."""
    from bot.store.postgresql import PostgresStore
    from bot.store.postgresql.loading import Rows, load_all
    from bot.store.sqlite import SqliteStore
    from bot.store.sqlite.export import Snapshot

    if not source.is_file():
        raise StoreError(f"There is no SQLite file at {source} to copy (DATABASE_PATH, --from).")
    SqliteStore(str(source)).close()  # brought up to the schema's last step
    snapshot = Snapshot(source)
    try:
        target = PostgresStore(database_url)
        await target.open()
        try:
            return await load_all(
                target,
                [
                    Rows(table, columns, snapshot.batches(table, columns, BATCH_ROWS))
                    for table, columns in TABLES
                ],
            )
        finally:
            await target.aclose()
    finally:
        snapshot.close()
