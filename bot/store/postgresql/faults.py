"""PostgreSQL faults: what each way the server or the driver fails means for whoever runs
the bot, as one StoreError. The server's own words are kept (they never hold the
password); the URL is never repeated."""

import psycopg
from psycopg import errors

_PROBLEMS: tuple[tuple[type[psycopg.Error], str], ...] = (
    (errors.QueryCanceled, "a statement ran past its timeout: the server is overloaded or locked"),
    (errors.DiskFull, "the database server's disk is full: free space on it"),
    (errors.InsufficientPrivilege, "the DATABASE_URL user may not do this: grant it the tables"),
    (errors.ReadOnlySqlTransaction, "the server is read-only (a replica?): point at the primary"),
    (errors.UndefinedTable, "the tables are missing: run `python -m bot db migrate`"),
    (errors.AdminShutdown, "the server was shut down or restarted: the bot reconnects"),
    (psycopg.OperationalError, "the server is unreachable or dropped the connection"),
)


def database_problem(exc: psycopg.Error) -> str:
    """A PostgreSQL failure in words someone running the bot can act on."""
    fix = next((fix for kind, fix in _PROBLEMS if isinstance(exc, kind)), "see the log")
    said = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # Not reached, or gone: nothing is wrong with the data, and it passes once it answers.
    state = "unavailable" if isinstance(exc, psycopg.OperationalError) else "failing"
    return f"The bot's database is {state} ({said}): {fix}."
