"""SQLite faults: what each way SQLite fails means for whoever runs the bot, and the
guard that turns a bare sqlite3 error into a StoreError that says so.
"""

import contextlib
import functools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from bot.errors import StoreError

T = TypeVar("T")

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


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as exc:
            raise StoreError(database_problem(exc)) from exc

    return call


def guard(cls: type[T]) -> type[T]:
    """Every public method of `cls`: an SQLite failure reaches callers as a StoreError,
    never as a bare sqlite3 error, which everything above would take for a bug."""
    for name, method in list(vars(cls).items()):
        if callable(method) and not name.startswith("_"):
            setattr(cls, name, _guarded(method))
    return cls


@contextlib.contextmanager
def translated(inner: AbstractContextManager[T]) -> Iterator[T]:
    """`inner` (a transaction), with a failure at its commit translated too."""
    try:
        with inner as value:
            yield value
    except sqlite3.Error as exc:
        raise StoreError(database_problem(exc)) from exc
