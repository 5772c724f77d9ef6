"""What only the PostgreSQL store has: its schema history beside SQLite's, migrations
that replicas run once, the advisory lock behind the lease, a server that is down or
goes away, `db migrate` and `db copy`. What every backend promises is in
test_repositories.py."""

import asyncio
import functools
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import cli, settings
from bot.answers.phone_numbers import Lookup
from bot.domain.account_readings import credentials_reading
from bot.domain.alerting import Incident, SlackMessage
from bot.domain.thresholds import Severity
from bot.errors import LeaseLost, StoreError
from bot.store import Change, Coverage, Draft, Drawn, PostKind, schema
from bot.store.postgresql import PostgresStore
from bot.store.postgresql import migrations as pg_migrations
from bot.store.sqlite import SqliteStore
from bot.store.sqlite import migrations as sqlite_migrations
from tests.backends import count, rows
from tests.support import traffic

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SAMPLE = Path(__file__).parent / "data" / "sample-error-codes.json"
LEASE = timedelta(hours=1)


def test_both_backends_follow_the_one_schema_history():
    assert [name for name, _ in sqlite_migrations.MIGRATIONS] == list(schema.HISTORY)
    assert [name for name, _ in pg_migrations.STEPS] == list(schema.HISTORY)


async def test_an_older_database_is_brought_up_to_date_once(postgres_url):
    old = PostgresStore(postgres_url, upto=2)
    assert await old.open() == list(schema.HISTORY[:2])
    await old.aclose()
    store = PostgresStore(postgres_url)
    assert await store.open() == list(schema.HISTORY[2:])
    await store.aclose()
    again = PostgresStore(postgres_url)
    assert await again.open() == []
    assert await count(again, "_migrations") == len(schema.HISTORY)
    await again.aclose()


async def test_replicas_starting_together_migrate_once(postgres_url):
    stores = [PostgresStore(postgres_url) for _ in range(4)]
    ran = await asyncio.gather(*(store.open() for store in stores))
    assert sorted(len(steps) for steps in ran) == [0, 0, 0, len(schema.HISTORY)]
    for store in stores:
        await store.aclose()


async def test_a_lease_whose_process_was_killed_is_taken_at_once(postgres_url):
    """The advisory lock goes with its connection, so a watcher killed holding an hour's
    lease is replaced by the next cycle of another replica, not an hour later."""
    dies_holding_it = (
        "import asyncio, os, signal, sys\n"
        "from datetime import UTC, datetime, timedelta\n"
        "from bot.store.postgresql import PostgresStore\n"
        "async def main():\n"
        "    store = PostgresStore(sys.argv[1])\n"
        "    await store.open()\n"
        "    assert await store.watcher.take_lease('dead', datetime.now(UTC), timedelta(hours=1))\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", dies_holding_it, postgres_url], timeout=60)
    assert done.returncode == -signal.SIGKILL
    store = PostgresStore(postgres_url)
    await store.open()
    try:
        assert "dead" in (await store.watcher.get("lease") or "")  # an hour to run
        # The server notices the dead connection within moments, not at once.
        async with asyncio.timeout(10):
            while not await store.watcher.take_lease("next", datetime.now(UTC), LEASE):
                await asyncio.sleep(0.05)
        assert "next" in (await store.watcher.get("lease") or "")
    finally:
        await store.aclose()


async def test_a_watcher_whose_lock_connection_was_cut_is_fenced_off(postgres_url):
    """The lock's connection dropped (a network cut, a server that killed it) while its
    process lives on: another replica takes over, and the old watcher's writes are
    refused, not mixed with the new one's."""
    first, second = PostgresStore(postgres_url), PostgresStore(postgres_url)
    await first.open()
    await second.open()
    try:
        term = await first.watcher.take_lease("first", datetime.now(UTC), LEASE)
        assert term is not None
        assert await second.watcher.take_lease("second", datetime.now(UTC), LEASE) is None
        await rows(
            second,
            "select pg_terminate_backend(pid) from pg_locks "
            "where locktype = 'advisory' and granted",
        )
        async with asyncio.timeout(10):
            while (
                taken := await second.watcher.take_lease("second", datetime.now(UTC), LEASE)
            ) is None:
                await asyncio.sleep(0.05)
        assert taken > term
        reading = credentials_reading(True, NOW)
        opened = Incident("k", reading.code, Severity.CRITICAL, NOW, NOW)
        with pytest.raises(LeaseLost):
            await first.incidents.apply(None, lambda _: Change(opened, reading), NOW, fence=term)
        # Its next cycle finds the lease another's, and stands by.
        assert await first.watcher.take_lease("first", datetime.now(UTC), LEASE) is None
        assert await count(second, "incidents") == 0
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_server_that_is_not_there_is_named_without_the_password(postgres_cluster):
    url = f"postgresql://bot:s3cret-pass@127.0.0.1:{postgres_cluster.port + 1}/nothing"
    store = PostgresStore(url)
    with pytest.raises(StoreError) as failed:
        await store.open()
    await store.aclose()
    said = str(failed.value)
    assert "unavailable" in said and "DATABASE_URL" in said and "s3cret-pass" not in said


async def test_a_restarted_server_costs_the_calls_it_cut_off_and_no_more(
    postgres_cluster, postgres_url
):
    store = PostgresStore(postgres_url)
    await store.open()
    try:
        await store.messages.save(traffic(20, 1, NOW)[:10])
        await asyncio.to_thread(postgres_cluster.restart)
        # The pool checks a connection as it lends it: the dead ones are replaced.
        assert len(await store.messages.recent(NOW - timedelta(hours=2))) == 10
    finally:
        await store.aclose()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysql://u:pw-123456789@h/db", "must be a PostgreSQL URL"),
        ("sqlite:///bot.db", "the SQLite file is DATABASE_PATH"),
        ("postgresql://u:pw-123456789@h:port/db", "cannot be read as a URL"),
        ("postgresql://u:pw-123456789@/db", "names no host"),
        ("postgresql://u:pw-123456789@h/db?sslmode=always", "unknown sslmode"),
        ("postgresql://u:pw-1234#56789@h/db", "percent-encode them in the password"),
    ],
)
def test_a_bad_database_url_is_a_settings_problem_that_never_shows_the_password(url, problem):
    from bot.errors import SettingsError

    with pytest.raises(SettingsError) as failed:
        settings.load({"DATABASE_URL": url})
    assert failed.value.names == ("DATABASE_URL",)
    assert problem in str(failed.value) and "pw-123456789" not in str(failed.value)


def test_a_url_libpq_cannot_read_is_named_at_once_without_the_password():
    with pytest.raises(StoreError) as failed:
        PostgresStore("postgresql://bot:pw-123456789@127.0.0.1/d?nonsense=1")
    assert "nonsense" in str(failed.value) and "pw-123456789" not in str(failed.value)


def test_good_database_urls_are_taken():
    for url in (
        "postgres://u:p@db.example.com:5432/d?sslmode=require",
        "postgresql://u@127.0.0.1/d",
        "postgresql:///d?host=/var/run/postgresql",
    ):
        assert settings.load({"DATABASE_URL": url}).database_url == url


def test_db_migrate_says_what_it_applied(postgres_url, capsys):
    env = {"DATABASE_URL": postgres_url}
    assert cli.main(["db", "migrate"], env) == 0
    assert f"applied {len(schema.HISTORY)} migrations" in capsys.readouterr().out
    assert cli.main(["db", "migrate"], env) == 0
    out = capsys.readouterr().out
    assert "up to date" in out and "bot@" not in out  # where, without the user


def test_the_procfile_migrates_in_the_release_phase():
    from tests.support import ROOT

    lines = (ROOT / "Procfile").read_text().splitlines()
    assert "release: python -m bot db migrate" in lines


async def _state_in_sqlite(path: str) -> dict[str, Any]:
    """A SQLite file as a bot left it: an open incident posted to Slack with a change
    still queued, a lookup and its use, messages, the watcher's coverage and a click."""
    store = SqliteStore(path)
    await store.messages.save(traffic(21, 2, NOW))
    await store.lookups.save(Lookup("+12025550100", True, carrier_name="Verizon"), NOW)
    await store.lookups.add_use("U1", NOW, NOW - timedelta(hours=1), 5)
    reading = credentials_reading(True, NOW)
    opened = Incident("k", reading.code, Severity.CRITICAL, NOW, NOW)

    def first(incident: Incident) -> Drawn:
        return Drawn("v1", (Draft(PostKind.POST, "alert", [{"type": "divider"}]),))

    saved = await store.incidents.apply(None, lambda _: Change(opened, reading, first), NOW)
    assert saved is not None and saved.id is not None
    [post] = await store.outbox.pending()
    await store.outbox.mark_sent(post.id, NOW, SlackMessage("C0ALERTS", "1700000000.000001"))

    def edit(incident: Incident) -> Drawn:
        return Drawn("v2", (Draft(PostKind.UPDATE, "edited", []),))

    await store.incidents.apply(saved.id, lambda r: Change(r.incident, None, edit), NOW)  # type: ignore[union-attr]
    await store.watcher.set_coverage(Coverage(NOW - timedelta(hours=2), NOW, 60.0))
    await store.incidents.first_click("clicked", NOW, NOW - timedelta(days=1))
    for process in ("first process", "second process", "old process"):  # the third term
        await store.watcher.take_lease(process, NOW, LEASE)
        if process != "old process":
            await store.watcher.release_lease(process)
    pending = await store.outbox.pending()
    # The file's last watcher died sending the edit: it stays claimed under term 3.
    assert await store.outbox.claim(pending[0].id, NOW, fence=3) is not None
    found = {
        "record": await store.incidents.record(saved.id),
        "pending": pending,
        "messages": sorted(await store.messages.recent(NOW - timedelta(days=1)), key=str),
        "lookup": await store.lookups.cached("+12025550100", NOW - timedelta(days=1)),
        "uses": await store.lookups.uses("U1", NOW - timedelta(hours=1)),
        "coverage": await store.watcher.coverage(),
    }
    store.close()
    return found


async def test_db_copy_moves_a_sqlite_file_s_state_and_loses_nothing(
    postgres_url, tmp_path, capsys
):
    path = str(tmp_path / "bot.db")
    before = await _state_in_sqlite(path)
    env = {"DATABASE_URL": postgres_url, "DATABASE_PATH": path}
    assert await asyncio.to_thread(cli.main, ["db", "copy"], env) == 0
    assert "Copied" in capsys.readouterr().out
    store = PostgresStore(postgres_url)
    await store.open()
    try:
        record = before["record"]
        assert record.incident.id is not None and record.posted is not None
        assert await store.incidents.record(record.incident.id) == record
        assert await store.outbox.pending() == before["pending"]
        messages = await store.messages.recent(NOW - timedelta(days=1))
        assert sorted(messages, key=str) == before["messages"]
        assert (
            await store.lookups.cached("+12025550100", NOW - timedelta(days=1))
            == (before["lookup"])
        )
        assert await store.lookups.uses("U1", NOW - timedelta(hours=1)) == before["uses"]
        assert await store.watcher.coverage() == before["coverage"]
        assert not await store.incidents.first_click("clicked", NOW, NOW - timedelta(days=1))
        # The old file's watcher lease stays behind: this database's first watcher takes it
        # (term 1 here), and sends the edit the file's watcher died sending, at once.
        assert await store.watcher.get("lease") is None
        term = await store.watcher.take_lease("new process", NOW, LEASE)
        assert await store.outbox.claim(before["pending"][0].id, NOW, fence=term) is not None
        # New rows take ids after the copied ones: a button's incident id means one thing.
        reading = credentials_reading(True, NOW)
        later = Incident("k2", reading.code, Severity.WARNING, NOW, NOW)
        saved = await store.incidents.apply(None, lambda _: Change(later, reading), NOW)
        assert saved is not None and saved.id == record.incident.id + 1
    finally:
        await store.aclose()
    # Into a database that holds state already: refused, nothing written twice.
    assert await asyncio.to_thread(cli.main, ["db", "copy"], env) == 1
    assert "already holds the bot's state" in capsys.readouterr().err
    store = PostgresStore(postgres_url)
    await store.open()
    assert await count(store, "messages") == len(before["messages"])
    await store.aclose()


async def test_db_copy_refuses_a_database_with_a_dictionary_already(postgres_url, tmp_path, capsys):
    """Review of issue 16: a dictionary imported into PostgreSQL first made the copy fail
    on a duplicate key, with nothing to say why."""
    path = str(tmp_path / "bot.db")
    await _state_in_sqlite(path)
    env = {"DATABASE_URL": postgres_url, "DATABASE_PATH": path}
    assert await asyncio.to_thread(cli.main, ["knowledge", "import", str(SAMPLE)], env) == 0
    capsys.readouterr()
    assert await asyncio.to_thread(cli.main, ["db", "copy"], env) == 1
    said = capsys.readouterr().err
    assert "already holds the bot's state (dictionary has rows)" in said
    assert "import it again after the copy" in said


def test_a_password_given_as_an_option_stays_out_of_what_is_said(capsys):
    """Review of issue 16: libpq also takes the password as a `password=` option, and
    only the user part's was kept out of errors."""
    url = "postgresql://bot@127.0.0.1:1/d?password=Sekr1t%zz"
    assert cli.main(["db", "migrate"], {"DATABASE_URL": url}) == 1
    said = capsys.readouterr().err
    assert "DATABASE_URL cannot be used" in said and "Sekr1t" not in said
    assert "Sekr1t%zz" in settings.load({"DATABASE_URL": url}).secrets


def test_db_copy_refuses_a_file_whose_watcher_runs(tmp_path, postgres_url, capsys):
    """Second review of issue 16: a copy taken while the file's bot watches would send
    again from PostgreSQL what it sends meanwhile."""
    from bot.store.sqlite.lock import ProcessLock

    path = tmp_path / "bot.db"
    SqliteStore(str(path)).close()
    watching = ProcessLock(f"{path}-watcher.lock")
    assert watching.acquire() == "taken"
    try:
        env = {"DATABASE_URL": postgres_url, "DATABASE_PATH": str(path)}
        assert cli.main(["db", "copy"], env) == 1
        assert "A bot is watching" in capsys.readouterr().err
    finally:
        watching.release()


def test_a_password_with_a_hash_is_kept_out_however_it_is_read():
    url = "postgresql://bot:4821#kQ7vZ@127.0.0.1:1/db"
    from bot.domain.privacy import url_passwords

    assert "4821#kQ7vZ" in url_passwords(url)


def test_db_copy_needs_a_database_url_and_a_file(tmp_path, postgres_url, capsys):
    assert cli.main(["db", "copy"], {"DATABASE_PATH": str(tmp_path / "x.db")}) == 2
    assert "set DATABASE_URL" in capsys.readouterr().err
    env = {"DATABASE_URL": postgres_url}
    assert cli.main(["db", "copy", "--from", str(tmp_path / "none.db")], env) == 1
    assert "no SQLite file" in capsys.readouterr().err


async def test_the_rollup_is_counted_again_after_a_copy(postgres_url, tmp_path):
    """The hourly rollup is derived: not copied, it is counted as baselines need it, and
    comes out as SQLite had it."""
    path = str(tmp_path / "bot.db")
    sqlite = SqliteStore(path)
    await sqlite.messages.save(traffic(22, 30, NOW))
    expected = await sqlite.messages.baseline(30003, NOW - timedelta(days=2), NOW)
    sqlite.close()
    env = {"DATABASE_URL": postgres_url, "DATABASE_PATH": path}
    assert await asyncio.to_thread(cli.main, ["db", "copy"], env) == 0
    store = PostgresStore(postgres_url)
    await store.open()
    try:
        assert await rows(store, "select count(*) from message_hours") == [(0,)]
        assert await store.messages.baseline(30003, NOW - timedelta(days=2), NOW) == expected
    finally:
        await store.aclose()


def test_without_server_binaries_the_postgresql_tests_say_they_are_skipped():
    """CI on a machine without PostgreSQL: skipped, with one line saying why, never
    silently."""
    from tests.postgres import SKIP_REASON
    from tests.support import ROOT

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_postgres.py", "-k", "older_database or migrate_says"],
        cwd=ROOT, env={**os.environ, "PG_BINDIR": "/nonexistent"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:]
    assert "2 skipped" in done.stdout
    assert f"PostgreSQL: {SKIP_REASON}" in done.stdout


def _same(change: Change, _: object) -> Change:
    return change


async def test_two_replicas_claiming_two_posts_of_one_incident_at_once_take_one(postgres_url):
    """Review of issue 16: the claim checks that no other post of the incident is on its
    way; without the incident's row locked first, two replicas each passed the check for
    a different post and both went, in either order."""
    first, second = PostgresStore(postgres_url), PostgresStore(postgres_url)
    await first.open()
    await second.open()
    try:
        reading = credentials_reading(True, NOW)
        for i in range(20):
            opened = Incident(f"k{i}", reading.code, Severity.CRITICAL, NOW, NOW)

            def draw(incident: Incident) -> Drawn:
                return Drawn(
                    "v", (Draft(PostKind.UPDATE, "edit", []), Draft(PostKind.REPLY, "n", []))
                )

            change = Change(opened, reading, draw)
            saved = await first.incidents.apply(None, functools.partial(_same, change), NOW)
            assert saved is not None
            edit, note = [p for p in await first.outbox.pending() if p.incident_id == saved.id]
            claims = await asyncio.gather(
                first.outbox.claim(edit.id, NOW), second.outbox.claim(note.id, NOW)
            )
            assert sum(claim is not None for claim in claims) == 1, i
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_fenced_write_waits_for_a_handover_under_way_and_is_refused(postgres_url):
    """Review of issue 16: the lease row is share-locked by a fenced write, so a handover
    committing between the check and the write cannot let the old holder's write in."""
    import psycopg

    store = PostgresStore(postgres_url)
    await store.open()
    try:
        term = await store.watcher.take_lease("old", NOW, LEASE)
        assert term is not None
        reading = credentials_reading(True, NOW)
        opened = Incident("k", reading.code, Severity.CRITICAL, NOW, NOW)
        async with await psycopg.AsyncConnection.connect(postgres_url) as handover:
            await handover.execute("select value from poll_state where name = 'lease' for update")
            value = json.dumps(["new", (NOW + LEASE).isoformat(), term + 1])
            await handover.execute("update poll_state set value = %s where name = 'lease'", [value])
            write = asyncio.create_task(
                store.incidents.apply(None, lambda _: Change(opened, reading), NOW, fence=term)
            )
            await asyncio.sleep(0.3)
            done_early = write.done()
            await handover.commit()
        assert not done_early  # it waited for the handover to commit or not
        with pytest.raises(LeaseLost):
            await write
        assert await count(store, "incidents") == 0
    finally:
        await store.aclose()
