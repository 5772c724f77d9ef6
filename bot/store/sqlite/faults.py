"""SQLite faults: what each way SQLite fails means for whoever runs the bot. The
connections turn every sqlite3 error into a StoreError that says so: a bare one would be
taken for a bug by everything above the store.
"""

import sqlite3

_PROBLEMS = (
    ("full", "the disk holding DATABASE_PATH is full: free space on it"),
    ("disk i/o", "the disk holding DATABASE_PATH fails to read or write: check the disk"),
    (
        "malformed",
        "the database file is damaged: stop the bot, move the file (and its -wal and -shm) "
        "aside or restore a copy; a new one is built, without the open incidents",
    ),
    ("not a database", "DATABASE_PATH is not an SQLite database: point it at the bot's file"),
    ("locked", "another process holds the database's write lock: see what else opens it"),
    ("readonly", "the database is read-only to the bot: give its user write access"),
)


def database_problem(exc: sqlite3.Error) -> str:
    """An SQLite failure in words someone running the bot can act on."""
    said = str(exc).lower()
    fix = next((fix for key, fix in _PROBLEMS if key in said), "see the log")
    return f"The bot's database is failing ({exc}): {fix}."
