"""Scratch: a schema of its own in someone's database, dropped afterwards, for the demo
run against DATABASE_URL: it shows the bot on PostgreSQL without touching the tables a
real bot keeps there (its locks are per schema too)."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bot.errors import StoreError
from bot.store.postgresql.faults import database_problem


@asynccontextmanager
async def scratch_schema(url: str, prefix: str) -> AsyncIterator[str]:
    """A URL whose tables live in a new schema `prefix_…`, dropped with them at the end."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    await _run(url, sql.SQL("create schema {}").format(sql.Identifier(name)))
    try:
        yield _with_search_path(url, name)
    finally:
        await _run(url, sql.SQL("drop schema {} cascade").format(sql.Identifier(name)))


async def _run(url: str, statement: sql.Composed) -> None:
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(statement)
    except psycopg.Error as exc:
        raise StoreError(database_problem(exc)) from exc


def _with_search_path(url: str, schema: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = " ".join([*(v for k, v in query if k == "options"), f"-csearch_path={schema}"])
    query = [(k, v) for k, v in query if k != "options"] + [("options", options)]
    return urlunsplit(parts._replace(query=urlencode(query)))
