"""DATABASE_URL: whether a value can be a PostgreSQL URL, said without quoting it; and
how any rejected setting is quoted in a problem."""

from urllib.parse import parse_qs, urlsplit

SHOWN_CHARS = 12  # a rejected value longer than this may be a secret pasted in the wrong place


def shown(value: str) -> str:
    """A rejected value as a problem may quote it: a short, plain one as it is; anything
    longer, or unusual, only by its length, since it may be a secret in the wrong setting."""
    if len(value) <= SHOWN_CHARS and value.isprintable():
        return repr(value)
    return f"a value of {len(value)} characters (not shown)"


SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def database_url_problem(url: str) -> str:
    """Why DATABASE_URL cannot be a PostgreSQL URL, or "" when it can (or is not set).
    Never quotes the URL: it may hold the password."""
    if not url:
        return ""
    unreadable = "DATABASE_URL cannot be read as a URL (its port or brackets are wrong)"
    try:
        parts = urlsplit(url)
    except ValueError:
        return unreadable
    # libpq reads the password up to the @ before the host; a URL parser stops at # or ?.
    if "@" in url.partition("://")[2].split("/")[0] and "@" not in parts.netloc:
        return (
            "DATABASE_URL has a # or ? before its host: percent-encode them in the "
            "password (%23, %3F)"
        )
    try:
        parts.port  # noqa: B018  # raises on a port that is not a number
    except ValueError:
        return unreadable
    if parts.scheme not in ("postgres", "postgresql"):
        scheme = f"{shown(parts.scheme)}" if parts.scheme else "no scheme"
        return (
            "DATABASE_URL must be a PostgreSQL URL, postgresql://user:password@host:5432/"
            f"database, not one with {scheme} (the SQLite file is DATABASE_PATH)"
        )
    if not parts.hostname and "host=" not in parts.query:
        return "DATABASE_URL names no host: postgresql://user:password@HOST:5432/database"
    modes = parse_qs(parts.query).get("sslmode", [])
    if any(mode not in SSL_MODES for mode in modes):
        return f"DATABASE_URL has an unknown sslmode; use one of {', '.join(SSL_MODES)}"
    return ""
