"""Schema: the store's one history of numbered migrations. Each backend follows it step by
step in its own dialect (`sqlite.migrations`, `postgresql.migrations`), so a database of
either kind is at the same step after the same version, and `db copy` moves tables that
mean the same on both sides. Append only: a step that has run somewhere never changes."""

HISTORY = (
    "0001_dictionary",
    "0002_messages",
    "0003_lookups",
    "0004_watcher",
    "0005_incident_readings",
    "0006_moments",
    "0007_hours",
    "0008_outbox_sending",
    "0009_clicks",
    "0010_dlr_done",
    "0011_failures",
    "0012_outbox_claims",
    "0013_claim_ids",
    "0014_segments",
    "0015_segment_mutes",
    "0016_stream_events",
    "0017_message_accounts",
    "0018_account_hours",
)
