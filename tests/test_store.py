"""The SQLite store: migrations, and the rows the lookup cache and limit rely on."""

from datetime import UTC, datetime, timedelta

import sqlite_utils

from bot import store as store_module
from bot.numbers import Lookup
from bot.store import Store

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_an_older_file_is_brought_up_to_date_once(tmp_path, monkeypatch):
    path = str(tmp_path / "old.db")
    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:2])
    Store(path).close()
    monkeypatch.undo()
    Store(path).close()
    Store(path).close()
    db = sqlite_utils.Database(path)
    assert [r["name"] for r in db["_migrations"].rows] == [
        name for name, _ in store_module.MIGRATIONS
    ]
    assert {"lookups", "lookup_uses"} <= set(db.table_names())


def test_a_lookup_comes_back_as_it_went_in(tmp_path):
    store = Store(str(tmp_path / "bot.db"))
    saved = Lookup(
        phone_number="+12025550156",
        valid=False,
        validation_errors=("TOO_SHORT", "INVALID_LENGTH"),
        national_format="(202) 555-0156",
        country_code="US",
        line_type=None,
        line_type_error=60601,
    )
    store.save_lookup(saved, NOW)
    assert store.cached_lookup("+12025550156", NOW - timedelta(days=7)) == (saved, NOW)
    assert store.cached_lookup("+12025550156", NOW + timedelta(seconds=1)) is None
    assert store.cached_lookup("+12025550157", NOW - timedelta(days=7)) is None
    store.close()


def test_lookup_uses_are_counted_per_user_and_old_ones_dropped(tmp_path):
    store = Store(str(tmp_path / "bot.db"))
    hour_ago = NOW - timedelta(hours=1)
    store.add_lookup_use("U1", NOW - timedelta(hours=2), forget_before=hour_ago)
    store.add_lookup_use("U1", NOW - timedelta(minutes=5), forget_before=hour_ago)
    taken_back = store.add_lookup_use("U1", NOW, forget_before=hour_ago)
    store.add_lookup_use("U2", NOW, forget_before=hour_ago)
    store.remove_lookup_use(taken_back)
    assert store.lookup_uses("U1", hour_ago) == [NOW - timedelta(minutes=5)]
    assert store.db["lookup_uses"].count == 2  # the two-hour-old use was dropped
    store.close()


def test_two_open_incidents_for_one_key_do_not_stop_the_upgrade(tmp_path, monkeypatch):
    # Before the lease, two pollers could each open one; the unique index must still apply.
    path = str(tmp_path / "old.db")
    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:5])
    Store(path).close()
    monkeypatch.undo()
    db = sqlite_utils.Database(path)
    for i in (1, 2):
        db["incidents"].insert(
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
    store = Store(path)
    assert [i.id for i in store.open_incidents()] == [2]
    store.close()


def test_a_final_status_is_not_undone_by_a_late_callback(tmp_path):
    from bot.messages import Message

    store = Store(str(tmp_path / "bot.db"))
    for status, code in (("undelivered", 30003), ("sent", None)):
        store.record_status(
            Message(
                "SM" + "b" * 32,
                status,
                "+12025550156",
                "+15005550006",
                "outbound-api",
                error_code=code,
                date_created=NOW,
                date_updated=NOW,
            )
        )
    [message] = store.recent_messages(NOW - timedelta(hours=1))
    assert (message.status, message.error_code) == ("undelivered", 30003)
    store.close()
