"""Backends: which store the settings choose. DATABASE_URL set: PostgreSQL, shared by
every replica; otherwise the SQLite file at DATABASE_PATH, the embedded default."""

from urllib.parse import urlsplit

from bot.store.repositories import Store


def store_for(database_url: str, database_path: str) -> Store:
    """The store, built: `await store.open()` readies it (PostgreSQL connects then; the
    SQLite file is opened, and brought up to date, here)."""
    if database_url:
        from bot.store.postgresql import PostgresStore

        return PostgresStore(database_url)
    from bot.store.sqlite import SqliteStore

    return SqliteStore(database_path)


async def opened_store(database_url: str, database_path: str) -> Store:
    """The store, built and readied; closed again if it cannot be readied (a PostgreSQL
    pool opens before the server is found not to answer)."""
    store = store_for(database_url, database_path)
    try:
        await store.open()
    except BaseException:
        await store.aclose()
        raise
    return store


def described(database_url: str, database_path: str) -> str:
    """Where the state is, fit for a log line: never the URL's user or password."""
    if not database_url:
        return database_path
    parts = urlsplit(database_url)
    host = parts.hostname or "the local socket"
    port = f":{parts.port}" if parts.port else ""
    return f"PostgreSQL {parts.path.lstrip('/') or '(default database)'} on {host}{port}"
