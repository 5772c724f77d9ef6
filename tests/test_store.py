"""The SQLite store: migrations, and the rows the lookup cache and limit rely on."""

import asyncio
import json
import random
import signal
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlite_utils

from bot.answers.phone_numbers import Lookup
from bot.domain import failures, spikes
from bot.domain.messages import Message
from bot.domain.spikes import Baseline
from bot.errors import StoreError
from bot.store import CachedLookup
from bot.store.sqlite import SqliteStore
from bot.store.sqlite import migrations as store_module
from tests.support import on_writer, query, until

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


async def test_a_lookup_comes_back_as_it_went_in(tmp_path):
    store = SqliteStore(str(tmp_path / "bot.db"))
    saved = Lookup(
        phone_number="+12025550156",
        valid=False,
        validation_errors=("TOO_SHORT", "INVALID_LENGTH"),
        national_format="(202) 555-0156",
        country_code="US",
        line_type=None,
        line_type_error=60601,
    )
    await store.lookups.save(saved, NOW)
    assert await store.lookups.cached("+12025550156", NOW - timedelta(days=7)) == CachedLookup(
        saved, NOW
    )
    assert await store.lookups.cached("+12025550156", NOW + timedelta(seconds=1)) is None
    assert await store.lookups.cached("+12025550157", NOW - timedelta(days=7)) is None
    store.close()


async def test_lookup_uses_are_counted_per_user_and_old_ones_dropped(tmp_path):
    store = SqliteStore(str(tmp_path / "bot.db"))
    hour_ago = NOW - timedelta(hours=1)
    uses = store.lookups
    await uses.add_use("U1", NOW - timedelta(hours=2), forget_before=hour_ago, limit=5)
    await uses.add_use("U1", NOW - timedelta(minutes=5), forget_before=hour_ago, limit=5)
    taken_back = await uses.add_use("U1", NOW, forget_before=hour_ago, limit=5)
    await uses.add_use("U2", NOW, forget_before=hour_ago, limit=5)
    assert taken_back is not None
    await uses.remove_use(taken_back)
    assert await uses.uses("U1", hour_ago) == [NOW - timedelta(minutes=5)]
    # the two-hour-old use was dropped
    assert query(store.path, "select count(*) from lookup_uses")[0][0] == 2
    store.close()


async def test_a_use_past_the_limit_is_refused_and_not_counted(tmp_path):
    store = SqliteStore(str(tmp_path / "bot.db"))
    hour_ago = NOW - timedelta(hours=1)
    try:
        taken = [
            await store.lookups.add_use("U1", NOW, forget_before=hour_ago, limit=2)
            for _ in range(3)
        ]
        assert taken[0] is not None and taken[1] is not None and taken[2] is None
        assert len(await store.lookups.uses("U1", hour_ago)) == 2
        # Another asker has a limit of their own.
        assert await store.lookups.add_use("U2", NOW, forget_before=hour_ago, limit=2)
    finally:
        store.close()


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


async def test_a_final_status_is_not_undone_by_a_late_callback(tmp_path):
    from bot.domain.messages import Message

    store = SqliteStore(str(tmp_path / "bot.db"))
    for status, code in (("undelivered", 30003), ("sent", None)):
        await store.messages.record_status(
            Message(
                "SM" + "b" * 32,
                status,
                "+12025550156",
                "+15005550006",
                "outbound-api",
                error_code=code,
                date_created=NOW,
                date_updated=NOW,
            ),
            None,
        )
    [message] = await store.messages.recent(NOW - timedelta(hours=1))
    assert (message.status, message.error_code) == ("undelivered", 30003)
    store.close()


def _traffic(seed: int, hours: float, now: datetime) -> list[Message]:
    """Random messages over the `hours` before `now`: every status and direction, a few
    never sent, some codes."""
    rng = random.Random(seed)
    found = []
    for i in range(1500):
        created = now - timedelta(seconds=rng.randrange(int(hours * 3600)))
        status = rng.choice(["delivered", "delivered", "undelivered", "failed", "sent", "queued"])
        code = rng.choice([30003, 30007, 30002]) if status in ("undelivered", "failed") else None
        found.append(
            Message(
                sid=f"SM{i:032x}",
                status=status,
                to=rng.choice(["+1202555{:04d}", "+4474001{:05d}"]).format(rng.randrange(100)),
                from_=rng.choice(["+15005550006", "+15005550010", "+15005550011"]),
                messaging_service_sid=rng.choice([None, None, "", "MG1", "MG2"]),
                direction=rng.choice(["outbound-api", "outbound-api", "inbound"]),
                error_code=code,
                date_created=created,
                date_sent=None if status in ("failed", "queued") else created,
            )
        )
    return found


async def test_messages_read_again_unchanged_are_not_written_again(tmp_path):
    """Issue 19, item 2: each poll reads the settle window again, and most of it comes back
    as it was; only what is new or changed is written."""
    store = SqliteStore(str(tmp_path / "bot.db"))
    messages = _traffic(1, 1, NOW)[:200]
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


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_stores_counts_equal_counting_the_messages(tmp_path, seed):
    store = SqliteStore(str(tmp_path / "bot.db"))
    messages = _traffic(seed, 2, NOW)
    await store.messages.save(messages)
    window = timedelta(minutes=15)
    edges = spikes.tally_edges(window, NOW)
    counted = spikes.tally(await store.messages.tally([30002, 30003, 30007], edges), window, NOW)
    assert counted == spikes.tally_messages(messages, window, NOW)
    assert counted.final > 50 and counted.codes  # the data exercises every part
    for code in (30003, 30002):
        # Counted in SQL as in Python, ties and all (moments are whole seconds here).
        found = await store.messages.failures(code, NOW - window, NOW)
        assert found == failures.of_messages(messages, code, NOW - window, NOW)
        assert found.failed == counted.codes[code] and len(found.senders) == failures.TOP
        assert {country for country, _ in found.countries()} == {"US", "GB"}
    store.close()


def _whole_hours_baseline(messages: list[Message], code: int, since: datetime, until: datetime):
    counted = [
        m
        for m in messages
        if m.direction.startswith("outbound")
        and m.status in ("delivered", "undelivered", "failed")
        and since <= (m.date_sent or m.date_created) < until  # type: ignore[operator]
    ]
    return (len(counted), sum(m.error_code == code for m in counted))


def _counts(baseline: Baseline) -> tuple[int, int]:
    return baseline.final, baseline.failed


async def test_the_hourly_baseline_follows_changes_to_counted_hours(tmp_path):
    store = SqliteStore(str(tmp_path / "bot.db"))
    messages = _traffic(4, 30, NOW)
    await store.messages.save(messages)
    # [09:20, 11:40) holds the whole hours 10:00-11:00: that is what is counted.
    since, until = NOW - timedelta(hours=2, minutes=40), NOW - timedelta(minutes=20)
    hour = NOW.replace(hour=10)
    expected = _whole_hours_baseline(messages, 30003, hour, hour + timedelta(hours=1))
    assert expected[0] > 10
    assert _counts(await store.messages.baseline(30003, since, until)) == expected
    # A message of a counted hour changes (a late receipt): the hour is counted again.
    [late] = [
        m
        for m in messages
        if m.status == "sent"
        and m.direction.startswith("outbound")
        and m.date_sent is not None
        and hour <= m.date_sent < NOW.replace(hour=11)
    ][:1]
    changed = replace(late, status="undelivered", error_code=30003)
    await store.messages.save([changed])
    messages = [changed if m.sid == late.sid else m for m in messages]
    after = _whole_hours_baseline(messages, 30003, hour, hour + timedelta(hours=1))
    assert after == (expected[0] + 1, expected[1] + 1)
    assert _counts(await store.messages.baseline(30003, since, until)) == after
    # A status callback for a counted message does the same.
    [sent] = [
        m
        for m in messages
        if m.status == "sent"
        and m.direction.startswith("outbound")
        and m.date_sent is not None
        and hour <= m.date_sent < NOW.replace(hour=11)
    ][:1]
    reported = replace(sent, status="undelivered", error_code=30003)
    assert await store.messages.record_status(reported, None)
    assert _counts(await store.messages.baseline(30003, since, until)) == (
        after[0] + 1,
        after[1] + 1,
    )
    # The week-long baseline is the sum of its hours.
    week = await store.messages.baseline(30003, NOW - timedelta(days=7), until)
    messages = [reported if m.sid == sent.sid else m for m in messages]
    assert _counts(week) == _whole_hours_baseline(
        messages, 30003, NOW - timedelta(days=7), NOW.replace(hour=11)
    )
    store.close()


LEASE = timedelta(hours=1)


async def test_the_lease_is_one_process_s_until_it_gives_it_back(tmp_path):
    path = str(tmp_path / "bot.db")
    first, second = SqliteStore(path), SqliteStore(path)
    now = datetime.now(UTC)
    try:
        assert await first.watcher.take_lease("first", now, LEASE)
        assert await first.watcher.take_lease("first", now, LEASE)  # renewed
        assert not await second.watcher.take_lease("second", now, LEASE)
        await first.watcher.release_lease("first")
        assert await second.watcher.take_lease("second", now, LEASE)
        assert not await first.watcher.take_lease("first", now, LEASE)
    finally:
        first.close()
        second.close()


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


async def test_retention_also_forgets_looked_up_numbers(tmp_path):
    """Issue 14, item 11: lookups (numbers, carriers) outlived RETENTION_DAYS."""
    store = SqliteStore(str(tmp_path / "bot.db"))
    old, recent = NOW - timedelta(days=9), NOW - timedelta(days=1)
    await store.lookups.save(Lookup("+12025550100", True, carrier_name="Old Wireless"), old)
    await store.lookups.save(Lookup("+12025550101", True, carrier_name="New Wireless"), recent)
    await store.lookups.add_use("U0001", old, forget_before=old - timedelta(hours=1), limit=5)
    await store.messages.prune(NOW - timedelta(days=8), limit=100)
    assert await store.lookups.cached("+12025550100", NOW - timedelta(days=30)) is None
    assert await store.lookups.cached("+12025550101", NOW - timedelta(days=30)) is not None
    assert await store.lookups.uses("U0001", NOW - timedelta(days=30)) == []
    store.close()


async def test_a_damaged_database_is_named_with_what_to_do(tmp_path):
    """Issue 14, item 10: corrupted pages left /healthz 'ok' and commands saying only
    'Something went wrong'."""
    path = tmp_path / "bot.db"
    store = SqliteStore(str(path))
    await store.messages.save(_traffic(2, 60, NOW))
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
    await store.messages.save(_traffic(5, 1, NOW))
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
        saving = asyncio.create_task(store.messages.save(_traffic(6, 1, NOW)[:10]))
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


async def test_an_incident_and_its_reading_come_back_typed(tmp_path):
    """Severity is an enum with one encoding: what the store hands back is one, not the
    text it was written as."""
    from bot.domain.account_readings import credentials_reading
    from bot.domain.alerting import Incident
    from bot.domain.spikes import Severity
    from bot.store import Change

    store = SqliteStore(str(tmp_path / "bot.db"))
    try:
        reading = credentials_reading(True, NOW)
        opened = Incident("k", reading.code, Severity.CRITICAL, NOW, NOW)
        saved = await store.incidents.apply(None, lambda record: Change(opened, reading), NOW)
        assert saved is not None and saved.id is not None
        record = await store.incidents.record(saved.id)
        assert record is not None and record.reading == reading
        assert type(record.incident.severity) is Severity
        assert type(record.reading.severity) is Severity
        assert record.incident == saved
    finally:
        store.close()


async def test_a_write_whose_caller_is_cancelled_still_lands(tmp_path):
    """Review of issue 15: a shutdown that cancelled the watcher while Slack's answer to a
    post waited behind another write dropped the write, and the post went out again."""
    path = str(tmp_path / "bot.db")
    store = SqliteStore(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    batch = _traffic(7, 1, NOW)
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


async def test_a_closed_store_says_so(tmp_path):
    store = SqliteStore(str(tmp_path / "bot.db"))
    store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.messages.recent(NOW)
    with pytest.raises(StoreError, match="closed"):
        await store.messages.save(_traffic(8, 1, NOW)[:1])


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


async def test_retention_deletes_messages_a_bounded_batch_at_a_time(tmp_path):
    """Issue 19, item 2: a day of a busy account deleted in one transaction held the
    write lock for 10 s."""
    path = str(tmp_path / "bot.db")
    store = SqliteStore(path)
    try:
        old = [
            replace(m, sid=f"SMold{i:029x}", date_created=NOW - timedelta(days=40))
            for i, m in enumerate(_traffic(9, 1, NOW))
        ]
        await store.messages.save(old[:25] + _traffic(10, 1, NOW)[:5])
        before = NOW - timedelta(days=30)
        assert [await store.messages.prune(before, limit=10) for _ in range(4)] == [10, 10, 5, 0]
        assert query(path, "select count(*) from messages")[0][0] == 5  # the recent ones
    finally:
        store.close()


def _recounted(path: str) -> dict[tuple[str, int], int]:
    """What the rollup should hold for the hours it has counted, counted afresh."""
    from bot.store.sqlite.migrations import MOMENT
    from bot.store.sqlite.rollup import FINAL_OUTBOUND, TOTAL

    counted = [
        row[0] for row in query(path, "select hour from message_hours where error_code = -1")
    ]
    found: dict[tuple[str, int], int] = {}
    for hour in counted:
        where = f"substr({MOMENT}, 1, 13) = ? and {FINAL_OUTBOUND}"
        [(total,)] = query(path, f"select count(*) from messages where {where}", (hour,))
        found[(hour, TOTAL)] = total
        for code, n in query(
            path,
            f"select error_code, count(*) from messages where {where} "
            "and error_code is not null group by error_code",
            (hour,),
        ):
            found[(hour, code)] = n
    return found


@pytest.mark.parametrize("seed", [11, 12, 13])
async def test_counted_hours_follow_every_change_without_being_counted_again(tmp_path, seed):
    """Issue 19, item 1: a write to a counted hour emptied it, and the next cycle counted
    it again (2-2.7 s after 50 `why SM…`). Now writes move the counts: after random late
    receipts, changed codes, callbacks and new messages in counted hours, the rollup holds
    what a fresh count says, and no hour was dropped."""
    rng = random.Random(seed)
    path = str(tmp_path / "bot.db")
    store = SqliteStore(path)
    try:
        messages = _traffic(seed, 30, NOW)
        await store.messages.save(messages)
        await store.messages.baseline(30003, NOW - timedelta(days=2), NOW)  # counts the hours
        hours_before = query(path, "select count(*) from message_hours where error_code = -1")
        changed = []
        for m in rng.sample(messages, 300):
            status = rng.choice(["delivered", "undelivered", "failed", "sent"])
            code = rng.choice([30003, 30007, None]) if status != "delivered" else None
            changed.append(replace(m, status=status, error_code=code))
        await store.messages.save(changed[:200])  # a poll's late receipts, `why` histories
        for m in changed[200:]:  # StatusCallbacks
            report = replace(m, date_updated=NOW, to="", from_="")
            await store.messages.record_status(report, None)
        new = [replace(m, sid=f"SMnew{i:029x}") for i, m in enumerate(rng.sample(messages, 100))]
        await store.messages.save(new)
        held = {
            (hour, code): n
            for hour, code, n in query(path, "select hour, error_code, final from message_hours")
            if n
        }
        assert held == {key: n for key, n in _recounted(path).items() if n}
        assert query(path, "select count(*) from message_hours where error_code = -1") == (
            hours_before
        )
    finally:
        store.close()


async def test_a_week_s_first_count_goes_over_several_calls_and_says_so(tmp_path):
    """Issue 19, item 1: the first baseline counted a week's hours in one transaction
    (seconds at a million messages a day). With a budget, each call counts the newest
    hours it has time for, and the baseline says how many hours it rests on."""
    path = str(tmp_path / "bot.db")
    store = SqliteStore(path)
    try:
        messages = _traffic(14, 30, NOW)
        await store.messages.save(messages)
        since, until = NOW - timedelta(hours=30), NOW.replace(minute=0)
        # Next to no time: one hour a call, the newest first; no time: none.
        first = await store.messages.baseline(30003, since, until, count_seconds=1e-9)
        assert first.hours == 1
        [(newest,)] = query(path, "select max(hour) from message_hours")
        assert newest == (until - timedelta(hours=1)).strftime("%Y-%m-%dT%H")
        assert (await store.messages.baseline(30007, since, until, count_seconds=0)).hours == 1
        second = await store.messages.baseline(30003, since, until, count_seconds=1e-9)
        assert second.hours == 2
        # Time enough: the rest, and then the baseline is whole and equals a full count.
        whole = await store.messages.baseline(30003, since, until, count_seconds=60)
        assert whole.hours is None
        expected = _whole_hours_baseline(messages, 30003, since, until)
        assert _counts(whole) == expected
    finally:
        store.close()


async def test_the_rollup_counts_a_message_once_however_it_arrives(tmp_path):
    """Review of issue 19's rollup: a SID given twice in one save (a `why` stores the
    message, its recipient's history and the account's hour, which hold it again) was
    counted twice; and a StatusCallback's row, stored with the report's time for its
    creation, kept counting in that hour once the poll wrote the real dates."""
    path = str(tmp_path / "bot.db")
    store = SqliteStore(path)
    try:
        counted_hour = NOW.replace(minute=0) - timedelta(hours=3)
        # Count the hours first, from some background traffic.
        await store.messages.save(_traffic(15, 6, NOW))
        await store.messages.baseline(30003, NOW - timedelta(hours=6), NOW.replace(minute=0))
        failed = Message(
            "SM" + "d" * 32,
            "undelivered",
            "+12025550199",
            "+15005550006",
            "outbound-api",
            error_code=30003,
            date_created=counted_hour + timedelta(minutes=5),
            date_sent=counted_hour + timedelta(minutes=5),
        )
        await store.messages.save([failed, failed, replace(failed, to="+12025550199")])
        # A callback for another message, before the poll has seen it: no dates but now's.
        late = replace(
            failed,
            sid="SM" + "e" * 32,
            date_created=counted_hour + timedelta(hours=1, minutes=10),
            date_sent=None,
        )
        await store.messages.record_status(late, None)
        await store.messages.save(
            [replace(late, date_created=failed.date_created, date_sent=failed.date_sent)]
        )
        held = {
            (hour, code): n
            for hour, code, n in query(path, "select hour, error_code, final from message_hours")
            if n
        }
        assert held == {key: n for key, n in _recounted(path).items() if n}
    finally:
        store.close()


async def test_the_coverage_keeps_its_reading_back_apart_and_reads_older_forms(tmp_path):
    """Review of issue 19: the reading back has a key of its own, so a version that knows
    nothing of it still reads the coverage; and a coverage a development build wrote
    with it inline still reads."""
    from bot.store import Coverage, ReadingBack

    store = SqliteStore(str(tmp_path / "bot.db"))
    back = ReadingBack("/2010-04-01/Accounts/AC1/Messages.json?PageToken=PASM1", NOW, NOW)
    await store.watcher.set_coverage(Coverage(NOW, NOW, 60.0, back))
    assert await store.watcher.coverage() == Coverage(NOW, NOW, 60.0, back)
    [plain] = query(
        str(tmp_path / "bot.db"),
        "select value from poll_state where name = ?",
        ("ingest_coverage",),
    )
    assert len(json.loads(plain["value"])) == 3  # what an older version reads
    await store.watcher.set_coverage(Coverage(NOW, NOW, 60.0))
    assert await store.watcher.coverage() == Coverage(NOW, NOW, 60.0)
    inline = json.dumps([NOW.isoformat(), NOW.isoformat(), 60.0, "page", NOW.isoformat(), "x"])
    await store.watcher.put("ingest_coverage", inline)
    assert await store.watcher.coverage() == Coverage(NOW, NOW, 60.0)
    store.close()
