"""What only the SQLite store has: its file and migrations, its threads, its locks, WAL.
What every backend promises is in test_repositories.py."""

import asyncio
import signal
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlite_utils

from bot.answers.phone_numbers import Lookup
from bot.errors import StoreError
from bot.store.sqlite import SqliteStore
from bot.store.sqlite import migrations as store_module
from tests.support import on_writer, query, traffic, until

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def older_file(path: str, migrations: int) -> None:
    """A database file as a version that knew only the first `migrations` left it."""
    db = sqlite_utils.Database(path)
    store_module.migrate(db, upto=migrations)
    db.close()


def test_an_older_file_is_brought_up_to_date_once(tmp_path):
    path = str(tmp_path / "old.db")
    older_file(path, 2)
    assert not {"lookups", "lookup_uses"} & set(sqlite_utils.Database(path).table_names())
    SqliteStore(path).close()
    SqliteStore(path).close()
    db = sqlite_utils.Database(path)
    assert [r["name"] for r in db["_migrations"].rows] == [
        name for name, _ in store_module.MIGRATIONS
    ]
    assert {"lookups", "lookup_uses"} <= set(db.table_names())


async def test_two_open_incidents_for_one_key_do_not_stop_the_upgrade(tmp_path):
    # Before the lease, two pollers could each open one; the unique index must still apply.
    path = str(tmp_path / "old.db")
    older_file(path, 5)
    db = sqlite_utils.Database(path)
    incidents = db["incidents"]
    assert isinstance(incidents, sqlite_utils.db.Table)
    for i in (1, 2):
        incidents.insert(
            {
                "id": i,
                "key": "k",
                "code": 30003,
                "severity": "warning",
                "opened_at": "2026-11-23T12:00:00+00:00",
                "updated_at": f"2026-11-23T12:0{i}:00+00:00",
                "quiet": 0,
                "peak_rate": 0.1,
            }
        )
    db.close()
    store = SqliteStore(path)
    assert [i.id for i in await store.incidents.open_all()] == [2]
    store.close()


async def test_messages_read_again_unchanged_are_not_written_again(tmp_path):
    """Issue 19, item 2: each poll reads the settle window again, and most of it comes back
    as it was; only what is new or changed is written."""
    store = SqliteStore(str(tmp_path / "bot.db"))
    messages = traffic(1, 1, NOW)[:200]
    await store.messages.save(messages)

    async def written() -> int:
        [(changes,)] = await on_writer(store, "select total_changes()")
        return int(str(changes))  # rows the writer's connection has inserted, updated or deleted

    before = await written()
    await store.messages.save(messages)
    assert await written() == before
    late = replace(messages[0], status="undelivered", error_code=30003)
    await store.messages.save([*messages, late])
    assert await written() == before + 1
    assert (await store.messages.by_sid([late.sid]))[0] == late
    store.close()


LEASE = timedelta(hours=1)


@pytest.mark.skipif(sys.platform == "win32", reason="the OS lock is POSIX's flock")
async def test_a_lease_whose_process_was_killed_is_taken_at_once(tmp_path):
    path = str(tmp_path / "bot.db")
    dies_holding_it = (
        "import asyncio, os, signal, sys\n"
        "from datetime import UTC, datetime, timedelta\n"
        "from bot.store.sqlite import SqliteStore\n"
        "lease = SqliteStore(sys.argv[1]).watcher.take_lease\n"
        "assert asyncio.run(lease('dead', datetime.now(UTC), timedelta(hours=1)))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", dies_holding_it, path], timeout=60)
    assert done.returncode == -signal.SIGKILL
    store = SqliteStore(path)
    try:
        assert "dead" in (await store.watcher.get("lease") or "")  # an hour to run
        assert await store.watcher.take_lease("next", datetime.now(UTC), LEASE)
        assert "next" in (await store.watcher.get("lease") or "")
    finally:
        store.close()


async def test_a_lease_write_that_fails_leaves_the_os_lock_free_for_the_next_try(tmp_path):
    path = str(tmp_path / "bot.db")
    store, writer = SqliteStore(path), sqlite3.connect(path, timeout=0)
    await on_writer(store, "PRAGMA busy_timeout = 0")
    try:
        writer.execute("BEGIN IMMEDIATE")  # another connection holds SQLite's write lock
        with pytest.raises(StoreError):
            await store.watcher.take_lease("me", datetime.now(UTC), LEASE)
        writer.rollback()
        other = SqliteStore(path)
        try:
            assert await other.watcher.take_lease("other", datetime.now(UTC), LEASE)
        finally:
            other.close()
    finally:
        writer.close()
        store.close()


async def test_a_damaged_database_is_named_with_what_to_do(tmp_path):
    """Issue 14, item 10: corrupted pages left /healthz 'ok' and commands saying only
    'Something went wrong'."""
    path = tmp_path / "bot.db"
    store = SqliteStore(str(path))
    await store.messages.save(traffic(2, 60, NOW))
    store.close()
    data = bytearray(path.read_bytes())
    data[4096:12288] = b"\xff" * 8192  # the pages after the header, overwritten
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError) as failed:
        damaged = SqliteStore(str(path))
        await damaged.messages.tally([30003], [NOW - timedelta(days=1), NOW])
    assert "the database file is damaged: stop the bot, move the file" in str(failed.value)


async def test_a_bot_that_does_not_watch_still_forgets_numbers_after_retention(
    fake_slack, tmp_path, aiohttp_client
):
    """Review of issue 14: retention ran only in the watcher's cycle."""
    from bot import app as bot_app
    from tests.conftest import make_settings

    path = str(tmp_path / "bot.db")
    store = SqliteStore(path)
    old = datetime.now(UTC) - timedelta(days=30)
    await store.lookups.save(Lookup("+12025550100", True, carrier_name="Old Wireless"), old)
    store.close()
    await aiohttp_client(bot_app.build(make_settings(fake_slack, tmp_path)))  # not watching

    def forgotten() -> bool:  # the first prune runs in the background as the bot starts
        rows = query(path, "select count(*) from lookups where phone_number = '+12025550100'")
        return rows[0][0] == 0

    await until(forgotten)


async def test_reads_go_on_while_another_process_holds_the_write_lock(tmp_path):
    """WAL lets a reader in while a writer holds the lock: what the readers' connections
    answer, the lock cannot delay (issue 15: /healthz waited 9.9 s behind it)."""
    path = str(tmp_path / "bot.db")
    store = SqliteStore(path)
    await store.messages.save(traffic(5, 1, NOW))
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("delete from messages")  # not committed: no reader sees it
        assert len(await store.messages.recent(NOW - timedelta(hours=2))) == 1500
        assert await store.dictionary.size() == 0
    finally:
        other.execute("ROLLBACK")
        other.close()
        store.close()


async def test_a_write_waiting_on_the_lock_waits_off_the_event_loop(tmp_path):
    """The write waits on its own thread; the loop goes on, and the write lands once the
    lock is let go."""
    path = str(tmp_path / "bot.db")
    store = SqliteStore(path)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        saving = asyncio.create_task(store.messages.save(traffic(6, 1, NOW)[:10]))
        ticks = 0
        while ticks < 20:  # the loop keeps turning while the save waits
            await asyncio.sleep(0.005)
            ticks += 1
        assert not saving.done()
        assert await store.messages.recent(NOW - timedelta(hours=2)) == []
        other.execute("COMMIT")
        await saving
        assert len(await store.messages.recent(NOW - timedelta(hours=2))) == 10
    finally:
        other.close()
        store.close()


async def test_the_readers_connections_refuse_to_write(tmp_path):
    store = SqliteStore(str(tmp_path / "bot.db"))
    try:
        with pytest.raises(StoreError, match="read-only"):
            await store.connections.read(lambda db: db.execute("delete from messages"))
    finally:
        store.close()


async def test_a_write_whose_caller_is_cancelled_still_lands(tmp_path):
    """Review of issue 15: a shutdown that cancelled the watcher while Slack's answer to a
    post waited behind another write dropped the write, and the post went out again."""
    path = str(tmp_path / "bot.db")
    store = SqliteStore(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    batch = traffic(7, 1, NOW)
    first = asyncio.create_task(store.messages.save(batch[:3]))  # waits on the lock
    queued = asyncio.create_task(store.messages.save(batch[3:5]))  # waits behind it
    await asyncio.sleep(0.05)
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    other.execute("COMMIT")
    other.close()
    await first
    store.close()  # waits for what was asked of it
    assert query(path, "select count(*) from messages")[0][0] == 5


async def test_a_write_waits_for_another_process_s_lock_instead_of_failing(tmp_path):
    """Found while testing issue 15's review: a transaction that began by reading (as
    sqlite-utils does, checking the table first) failed at once with 'database is locked'
    when another process held the write lock, instead of waiting the busy timeout."""
    path = str(tmp_path / "bot.db")
    store = SqliteStore(path)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")
        release = asyncio.get_running_loop().call_later(0.2, other.execute, "COMMIT")
        hour_ago = NOW - timedelta(hours=1)
        use = await store.lookups.add_use("U1", NOW, forget_before=hour_ago, limit=5)
        assert use is not None and not release.cancelled()
        assert len(await store.lookups.uses("U1", hour_ago)) == 1
    finally:
        other.close()
        store.close()
