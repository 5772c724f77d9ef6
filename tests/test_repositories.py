"""The repository suite: what every backend promises behind `bot.store.repositories`.
Each test runs on SQLite and on PostgreSQL (the `store` fixture); what only one backend
has (files, locks, WAL) is tested in test_store.py and test_postgres.py."""

import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.answers.phone_numbers import Lookup
from bot.domain import failures, spikes
from bot.domain.account_readings import credentials_reading
from bot.domain.alerting import Incident, SlackMessage
from bot.domain.messages import FINAL_STATUSES, Message, when
from bot.domain.reports import Report
from bot.domain.segments import Segment, SegmentKind
from bot.domain.spikes import Baseline
from bot.domain.thresholds import Severity
from bot.errors import LeaseLost, StoreError
from bot.store import (
    CLAIM_SECONDS,
    CachedLookup,
    Change,
    Coverage,
    Draft,
    Drawn,
    PostKind,
    ReadingBack,
    SegmentMute,
    Store,
)
from tests.backends import RollupKey, another, count, counted_hours, hour_key, rollup, rows
from tests.support import msg, traffic

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LEASE = timedelta(hours=1)


async def test_a_lookup_comes_back_as_it_went_in(store: Store):
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
    await store.lookups.save(replace(saved, valid=True, carrier_name="T-Mobile"), NOW)
    assert await store.lookups.carriers() == {"+12025550156": "T-Mobile"}


async def test_lookup_uses_are_counted_per_user_and_old_ones_dropped(store: Store):
    hour_ago = NOW - timedelta(hours=1)
    uses = store.lookups
    await uses.add_use("U1", NOW - timedelta(hours=2), forget_before=hour_ago, limit=5)
    await uses.add_use("U1", NOW - timedelta(minutes=5), forget_before=hour_ago, limit=5)
    taken_back = await uses.add_use("U1", NOW, forget_before=hour_ago, limit=5)
    await uses.add_use("U2", NOW, forget_before=hour_ago, limit=5)
    assert taken_back is not None
    await uses.remove_use(taken_back)
    assert await uses.uses("U1", hour_ago) == [NOW - timedelta(minutes=5)]
    assert await count(store, "lookup_uses") == 2  # the two-hour-old use was dropped


async def test_a_use_past_the_limit_is_refused_and_not_counted(store: Store):
    hour_ago = NOW - timedelta(hours=1)
    taken = [
        await store.lookups.add_use("U1", NOW, forget_before=hour_ago, limit=2) for _ in range(3)
    ]
    assert taken[0] is not None and taken[1] is not None and taken[2] is None
    assert len(await store.lookups.uses("U1", hour_ago)) == 2
    # Another asker has a limit of their own.
    assert await store.lookups.add_use("U2", NOW, forget_before=hour_ago, limit=2)


async def test_the_quota_holds_when_two_processes_ask_at_once(store: Store):
    """The last use goes to one ask only, even from two stores (replicas) at once."""
    import asyncio

    other = await another(store)
    try:
        hour_ago = NOW - timedelta(hours=1)
        asks = [
            s.lookups.add_use("U1", NOW, forget_before=hour_ago, limit=5)
            for _ in range(10)
            for s in (store, other)
        ]
        taken = await asyncio.gather(*asks)
        assert sum(use is not None for use in taken) == 5
        assert len(await store.lookups.uses("U1", hour_ago)) == 5
    finally:
        await other.aclose()


async def test_a_final_status_is_not_undone_by_a_late_callback(store: Store):
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


async def test_messages_come_back_as_they_went_in(store: Store):
    messages = traffic(16, 3, NOW)[:300]
    await store.messages.save(messages)
    back = await store.messages.by_sid([m.sid for m in messages])
    assert sorted(back, key=lambda m: m.sid) == sorted(messages, key=lambda m: m.sid)
    assert await store.messages.earliest_moment() == min(when(m) for m in messages)
    to = messages[0].to
    since = NOW - timedelta(hours=2)
    expected = sorted(
        (m for m in messages if m.to == to and m.date_sent and m.date_sent >= since),
        key=lambda m: m.date_sent,  # type: ignore[arg-type, return-value]
        reverse=True,
    )
    assert [m.sid for m in await store.messages.to_number(to, since)] == [m.sid for m in expected]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_stores_counts_equal_counting_the_messages(store: Store, seed):
    messages = traffic(seed, 2, NOW)
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


def _whole_hours_baseline(messages: list[Message], code: int, since: datetime, until: datetime):
    counted = [
        m
        for m in messages
        if m.direction.startswith("outbound")
        and m.status in FINAL_STATUSES
        and since <= when(m) < until
    ]
    return (len(counted), sum(m.error_code == code for m in counted))


def _counts(baseline: Baseline) -> tuple[int, int]:
    return baseline.final, baseline.failed


async def test_the_hourly_baseline_follows_changes_to_counted_hours(store: Store):
    messages = traffic(4, 30, NOW)
    await store.messages.save(messages)
    # [09:20, 11:40) holds the whole hours 10:00-11:00: that is what is counted.
    since, until = NOW - timedelta(hours=2, minutes=40), NOW - timedelta(minutes=20)
    hour = NOW.replace(hour=10)
    expected = _whole_hours_baseline(messages, 30003, hour, hour + timedelta(hours=1))
    assert expected[0] > 10
    assert _counts(await store.messages.baseline(30003, since, until)) == expected

    def sent_in_hour(held: list[Message]) -> Message:
        return next(
            m
            for m in held
            if m.status == "sent"
            and m.direction.startswith("outbound")
            and m.date_sent is not None
            and hour <= m.date_sent < NOW.replace(hour=11)
        )

    # A message of a counted hour changes (a late receipt): its counts move.
    late = sent_in_hour(messages)
    changed = replace(late, status="undelivered", error_code=30003)
    await store.messages.save([changed])
    messages = [changed if m.sid == late.sid else m for m in messages]
    after = _whole_hours_baseline(messages, 30003, hour, hour + timedelta(hours=1))
    assert after == (expected[0] + 1, expected[1] + 1)
    assert _counts(await store.messages.baseline(30003, since, until)) == after
    # A status callback for a counted message does the same.
    sent = sent_in_hour(messages)
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


async def _recounted(store: Store, carriers: dict[str, str] | None = None) -> dict[RollupKey, int]:
    """What the rollup should hold for the hours it has counted, counted afresh from the
    messages the store hands back: for the account, every outbound message, those
    delivered, the final ones and each code's; for each country, sender, carrier (as
    `carriers` knew the numbers when they were stored) and account, the final ones and
    each code's."""
    counted = await counted_hours(store)
    found: Counter[RollupKey] = Counter()
    for m in await store.messages.recent(NOW - timedelta(days=30)):
        hour = hour_key(when(m))
        if hour not in counted or not m.direction.startswith("outbound"):
            continue
        found[hour, "account", "", -2] += 1
        if m.status == "delivered":
            found[hour, "account", "", -3] += 1
        if m.status not in FINAL_STATUSES:
            continue
        places = [
            ("account", ""),
            ("country", failures.country(m.to)),
            ("sender", m.messaging_service_sid or m.from_),
            ("carrier", (carriers or {}).get(m.to, "")),
            ("subaccount", m.account_sid or ""),
        ]
        for kind, segment in places:
            if kind == "account" or segment:
                found[hour, kind, segment, -1] += 1
                if m.error_code is not None:
                    found[hour, kind, segment, m.error_code] += 1
    return dict(found)


@pytest.mark.parametrize("seed", [11, 12, 13])
async def test_counted_hours_follow_every_change_without_being_counted_again(store: Store, seed):
    """Issue 19, item 1: a write to a counted hour emptied it, and the next cycle counted
    it again. Writes move the counts: after random late receipts, changed codes,
    callbacks and new messages in counted hours, the rollup holds what a fresh count
    says, and no hour was dropped."""
    rng = random.Random(seed)
    messages = traffic(seed, 30, NOW)
    await store.messages.save(messages)
    await store.messages.baseline(30003, NOW - timedelta(days=2), NOW)  # counts the hours
    hours_before = await counted_hours(store)
    changed = []
    for m in rng.sample(messages, 300):
        status = rng.choice(["delivered", "undelivered", "failed", "sent"])
        code = rng.choice([30003, 30007, None]) if status != "delivered" else None
        changed.append(replace(m, status=status, error_code=code))
    await store.messages.save(changed[:200])  # a poll's late receipts, `why` histories
    for m in changed[200:]:  # StatusCallbacks
        await store.messages.record_status(replace(m, date_updated=NOW, to="", from_=""), None)
    new = [replace(m, sid=f"SMnew{i:029x}") for i, m in enumerate(rng.sample(messages, 100))]
    await store.messages.save(new)
    assert await rollup(store) == await _recounted(store)
    assert await counted_hours(store) == hours_before


async def test_two_processes_writing_the_same_changes_at_once_count_them_once(store: Store):
    """Replicas: the watcher's save and a `why` on another process can store the same
    late receipts at the same moment; each change moves the rollup's counts once."""
    import asyncio

    second = await another(store)
    try:
        messages = traffic(17, 30, NOW)
        await store.messages.save(messages)
        await store.messages.baseline(30003, NOW - timedelta(days=2), NOW)  # counts the hours
        changed = [replace(m, status="undelivered", error_code=30003) for m in messages[:400]]
        await asyncio.gather(
            *(s.messages.save(changed[i::8]) for i in range(8) for s in (store, second)),
            *(s.messages.record_status(m, None) for m in changed[:40] for s in (store, second)),
        )
        assert await rollup(store) == await _recounted(store)
    finally:
        await second.aclose()


async def test_a_week_s_first_count_goes_over_several_calls_and_says_so(store: Store):
    """Issue 19, item 1: with a budget, each call counts the newest hours it has time for,
    and the baseline says how many hours it rests on."""
    messages = traffic(14, 30, NOW)
    await store.messages.save(messages)
    since, until = NOW - timedelta(hours=30), NOW.replace(minute=0)
    # Next to no time: one hour a call, the newest first; no time: none.
    first = await store.messages.baseline(30003, since, until, count_seconds=1e-9)
    assert first.hours == 1
    assert max(await counted_hours(store)) == hour_key(until - timedelta(hours=1))
    assert (await store.messages.baseline(30007, since, until, count_seconds=0)).hours == 1
    second = await store.messages.baseline(30003, since, until, count_seconds=1e-9)
    assert second.hours == 2
    # Time enough: the rest, and then the baseline is whole and equals a full count.
    whole = await store.messages.baseline(30003, since, until, count_seconds=60)
    assert whole.hours is None
    assert _counts(whole) == _whole_hours_baseline(messages, 30003, since, until)


async def test_the_rollup_counts_a_message_once_however_it_arrives(store: Store):
    """Review of issue 19's rollup: a SID given twice in one save was counted twice; and a
    StatusCallback's row, stored with the report's time for its creation, kept counting
    in that hour once the poll wrote the real dates."""
    counted_hour = NOW.replace(minute=0) - timedelta(hours=3)
    await store.messages.save(traffic(15, 6, NOW))
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
    assert await rollup(store) == await _recounted(store)


async def test_a_message_is_stored_with_its_country_and_its_carrier_as_then_known(store: Store):
    """Detection per segment: the carrier comes from the lookup cache as it stands when the
    message is stored; the country from its number. The rollup counts them so, and a
    message stored again after a lookup moves to its carrier."""
    await store.lookups.save(Lookup("+12025550007", True, carrier_name="Verizon Wireless"), NOW)
    messages = traffic(21, 6, NOW)
    await store.messages.save(messages)
    await store.messages.baseline(30003, NOW - timedelta(hours=8), NOW)  # counts the hours
    stored = dict(await rows(store, "select sid, carrier from messages"))
    known = {m.sid for m in messages if m.to == "+12025550007"}
    assert known and {sid for sid, carrier in stored.items() if carrier} == known
    assert {stored[sid] for sid in known} == {"Verizon Wireless"}
    carriers = {"+12025550007": "Verizon Wireless"}
    assert await rollup(store) == await _recounted(store, carriers)
    [(country,)] = await rows(
        store, "select distinct country from messages where sid = ?", (next(iter(known)),)
    )
    assert country == "US"
    # Another number's carrier is learned; its messages, stored again, count under it.
    await store.lookups.save(Lookup("+447400100042", True, carrier_name="EE"), NOW)
    again = [m for m in messages if m.to == "+447400100042"]
    assert again
    await store.messages.save(again)
    carriers["+447400100042"] = "EE"
    assert await rollup(store) == await _recounted(store, carriers)


async def test_a_window_is_counted_by_segment(store: Store):
    """What detection per segment reads of a window: final outbound messages by country,
    sender and carrier, and each watched code's failures and distinct numbers; for nested
    windows at once, each as if read alone."""
    messages = traffic(22, 2, NOW)
    await store.lookups.save(Lookup("+12025550007", True, carrier_name="Verizon Wireless"), NOW)
    await store.messages.save(messages)
    starts = [NOW - timedelta(minutes=45), NOW - timedelta(minutes=10)]
    found = await store.messages.segment_windows([30003, 30007], starts, NOW)
    assert [f.messages for f in found] == [len(_final_since(messages, s)) for s in starts]
    for since, window in zip(starts, found, strict=True):
        final: Counter[Segment] = Counter()
        failed: Counter[tuple[Segment, int]] = Counter()
        numbers: dict[tuple[Segment, int], set[str]] = {}
        for m in _final_since(messages, since):
            places = [
                Segment(SegmentKind.COUNTRY, failures.country(m.to)),
                Segment(SegmentKind.SENDER, m.messaging_service_sid or m.from_),
            ]
            if m.to == "+12025550007":
                places.append(Segment(SegmentKind.CARRIER, "Verizon Wireless"))
            for place in places:
                if not place.value:
                    continue
                final[place] += 1
                if m.error_code in (30003, 30007):
                    failed[place, m.error_code] += 1
                    numbers.setdefault((place, m.error_code), set()).add(m.to)
        assert window.final == dict(final)
        assert window.failed == dict(failed)
        assert window.recipients == {key: len(n) for key, n in numbers.items()}
    assert Segment(SegmentKind.COUNTRY, "GB") in found[0].final  # the traffic has both
    assert any(kind == 30007 for _, kind in found[0].failed)
    assert 0 < found[1].messages < found[0].messages


def _final_since(messages: list[Message], since: datetime) -> list[Message]:
    return [
        m
        for m in messages
        if m.direction.startswith("outbound")
        and m.status in FINAL_STATUSES
        and since <= when(m) <= NOW
    ]


async def test_each_segment_s_history_is_its_counted_hours(store: Store):
    messages = traffic(23, 30, NOW)
    await store.messages.save(messages)
    since, until = NOW - timedelta(hours=30), NOW.replace(minute=0)
    # Nothing counted, nothing to tell.
    assert await store.messages.segment_histories(30003, since, until) == {}
    await store.messages.baseline(30003, since, until)  # counts the hours
    found = await store.messages.segment_histories(30003, since, until)
    counted = await rollup(store)
    for segment, history in found.items():
        rows_of = {
            (hour, code): n
            for (hour, kind, value, code), n in counted.items()
            if (kind, value) == (segment.kind, segment.value)
        }
        assert history.final == sum(n for (_, code), n in rows_of.items() if code == -1)
        assert history.failed == sum(n for (_, code), n in rows_of.items() if code == 30003)
    senders = {s.value for s in found if s.kind == SegmentKind.SENDER}
    assert senders == {"MG1", "MG2", "+15005550006", "+15005550010", "+15005550011"}
    gb = found[Segment(SegmentKind.COUNTRY, "GB")]
    assert gb.final > 0 and gb.failed > 0


async def test_a_segment_is_muted_until_it_runs_out_or_is_ended(store: Store):
    gb = Segment(SegmentKind.COUNTRY, "GB")
    sender = Segment(SegmentKind.SENDER, "+15005550102")
    first = await store.mutes.mute(SegmentMute(30003, gb, NOW + timedelta(hours=24), "U1", NOW))
    other = await store.mutes.mute(SegmentMute(30007, sender, NOW + timedelta(hours=1), "U2", NOW))
    assert first != other
    assert [(m.code, m.segment, m.by) for m in await store.mutes.active(NOW)] == [
        (30007, sender, "U2"),  # the soonest to end first
        (30003, gb, "U1"),
    ]
    # Muted again: the same mute, with the new end and who asked.
    again = await store.mutes.mute(
        SegmentMute(30003, gb, NOW + timedelta(days=7), "U3", NOW + timedelta(minutes=5))
    )
    assert again == first
    [_, held] = await store.mutes.active(NOW)
    assert (held.until, held.by, held.id) == (NOW + timedelta(days=7), "U3", first)
    # Run out: no longer active.
    assert [m.code for m in await store.mutes.active(NOW + timedelta(hours=2))] == [30003]
    # Ended: gone, and said what it was; ending it again finds nothing.
    ended = await store.mutes.unmute(first)
    assert ended is not None and ended.segment == gb and ended.code == 30003
    assert await store.mutes.unmute(first) is None
    assert await store.mutes.active(NOW + timedelta(hours=2)) == []


async def test_retention_also_forgets_looked_up_numbers(store: Store):
    """Issue 14, item 11: lookups (numbers, carriers) outlived RETENTION_DAYS."""
    old, recent = NOW - timedelta(days=9), NOW - timedelta(days=1)
    await store.lookups.save(Lookup("+12025550100", True, carrier_name="Old Wireless"), old)
    await store.lookups.save(Lookup("+12025550101", True, carrier_name="New Wireless"), recent)
    await store.lookups.add_use("U0001", old, forget_before=old - timedelta(hours=1), limit=5)
    await store.messages.prune(NOW - timedelta(days=8), limit=100)
    assert await store.lookups.cached("+12025550100", NOW - timedelta(days=30)) is None
    assert await store.lookups.cached("+12025550101", NOW - timedelta(days=30)) is not None
    assert await store.lookups.uses("U0001", NOW - timedelta(days=30)) == []


async def test_retention_deletes_messages_a_bounded_batch_at_a_time(store: Store):
    """Issue 19, item 2: a day of a busy account deleted in one transaction held the
    write lock for 10 s."""
    old = [
        replace(m, sid=f"SMold{i:029x}", date_created=NOW - timedelta(days=40))
        for i, m in enumerate(traffic(9, 1, NOW))
    ]
    await store.messages.save(old[:25] + traffic(10, 1, NOW)[:5])
    before = NOW - timedelta(days=30)
    assert [await store.messages.prune(before, limit=10) for _ in range(4)] == [10, 10, 5, 0]
    assert await count(store, "messages") == 5  # the recent ones


async def test_an_incident_and_its_reading_come_back_typed(store: Store):
    """Severity is an enum with one encoding: what the store hands back is one, not the
    text it was written as."""
    reading = credentials_reading(True, NOW)
    opened = Incident("k", reading.code, Severity.CRITICAL, NOW, NOW)
    saved = await store.incidents.apply(None, lambda record: Change(opened, reading), NOW)
    assert saved is not None and saved.id is not None
    record = await store.incidents.record(saved.id)
    assert record is not None and record.reading == reading
    assert type(record.incident.severity) is Severity
    assert type(record.reading.severity) is Severity
    assert record.incident == saved
    assert await store.incidents.open_for("k") == saved
    assert await store.incidents.on_code(reading.code) == [saved]
    assert await store.incidents.record(saved.id + 1) is None


async def test_a_click_is_acted_on_once(store: Store):
    assert await store.incidents.first_click("k1", NOW, NOW - timedelta(days=1))
    assert not await store.incidents.first_click("k1", NOW, NOW - timedelta(days=1))
    # Forgotten once it is older than asked: a click that old is no replay.
    assert await store.incidents.first_click("k1", NOW, NOW + timedelta(seconds=1))


async def test_the_coverage_keeps_its_reading_back_apart_and_reads_older_forms(store: Store):
    """Review of issue 19: the reading back has a key of its own, so a version that knows
    nothing of it still reads the coverage; and a coverage a development build wrote
    with it inline still reads."""
    import json

    back = ReadingBack("/2010-04-01/Accounts/AC1/Messages.json?PageToken=PASM1", NOW, NOW)
    await store.watcher.set_coverage(Coverage(NOW, NOW, 60.0, back))
    assert await store.watcher.coverage() == Coverage(NOW, NOW, 60.0, back)
    plain = await store.watcher.get("ingest_coverage")
    assert plain is not None and len(json.loads(plain)) == 3  # what an older version reads
    await store.watcher.set_coverage(Coverage(NOW, NOW, 60.0))
    assert await store.watcher.coverage() == Coverage(NOW, NOW, 60.0)
    inline = json.dumps([NOW.isoformat(), NOW.isoformat(), 60.0, "page", NOW.isoformat(), "x"])
    await store.watcher.put("ingest_coverage", inline)
    assert await store.watcher.coverage() == Coverage(NOW, NOW, 60.0)


async def test_the_lease_is_one_process_s_until_it_gives_it_back(store: Store):
    second = await another(store)
    now = datetime.now(UTC)
    try:
        assert await store.watcher.take_lease("first", now, LEASE)
        assert await store.watcher.take_lease("first", now, LEASE)  # renewed
        assert not await second.watcher.take_lease("second", now, LEASE)
        await store.watcher.release_lease("first")
        assert await second.watcher.take_lease("second", now, LEASE)
        assert not await store.watcher.take_lease("first", now, LEASE)
    finally:
        await second.aclose()


async def test_a_closed_store_says_so(store: Store):
    await store.aclose()
    with pytest.raises(StoreError, match="closed"):
        await store.messages.recent(NOW)
    with pytest.raises(StoreError, match="closed"):
        await store.messages.save(traffic(8, 1, NOW)[:1])


async def _posted_incident(store: Store, key: str = "k") -> int:
    """An incident whose first post is queued; returns its id."""
    reading = credentials_reading(True, NOW)
    opened = Incident(key, reading.code, Severity.CRITICAL, NOW, NOW)

    def draw(incident: Incident) -> Drawn:
        return Drawn("v1", (Draft(PostKind.POST, "alert", []),))

    saved = await store.incidents.apply(None, lambda _: Change(opened, reading, draw), NOW)
    assert saved is not None and saved.id is not None
    return saved.id


async def _queue(store: Store, incident_id: int, *kinds: PostKind) -> None:
    def draw(incident: Incident) -> Drawn:
        return Drawn("v", tuple(Draft(kind, str(kind), []) for kind in kinds))

    await store.incidents.apply(incident_id, lambda r: Change(r.incident, None, draw), NOW)  # type: ignore[union-attr]


async def test_the_lease_s_token_grows_with_each_holder_and_fences_the_last_one(store: Store):
    """Issue 16: a watcher that lost the lease (its process paused, its connection cut)
    must write and post nothing once another holds it."""
    second = await another(store)
    try:
        first_term = await store.watcher.take_lease("first", NOW, LEASE)
        assert first_term is not None
        assert await store.watcher.take_lease("first", NOW, LEASE) == first_term  # renewed
        incident_id = await _posted_incident(store)
        [post] = await store.outbox.pending()
        await store.watcher.release_lease("first")
        second_term = await second.watcher.take_lease("second", NOW, LEASE)
        assert second_term is not None and second_term > first_term
        reading = credentials_reading(True, NOW)

        def reopen(_: object) -> Change:
            return Change(Incident("k2", reading.code, Severity.WARNING, NOW, NOW), reading)

        with pytest.raises(LeaseLost):
            await store.incidents.apply(None, reopen, NOW, fence=first_term)
        with pytest.raises(LeaseLost):
            await store.outbox.claim(post.id, NOW, fence=first_term)
        assert [i.id for i in await store.incidents.open_all()] == [incident_id]  # unchanged
        assert await second.incidents.apply(None, reopen, NOW, fence=second_term) is not None
        assert await second.outbox.claim(post.id, NOW, fence=second_term) is not None
        # Given back and taken again by its holder of before: a new term all the same.
        await second.watcher.release_lease("second")
        assert await second.watcher.take_lease("second", NOW, LEASE) == second_term + 1
    finally:
        await second.aclose()


async def test_a_claimed_post_is_sent_by_one_process_only(store: Store):
    second = await another(store)
    try:
        await _posted_incident(store)
        [post] = await store.outbox.pending()
        assert await store.outbox.claim(post.id, NOW) is not None
        assert await second.outbox.claim(post.id, NOW) is None  # on its way from the first
        later = NOW + timedelta(seconds=CLAIM_SECONDS + 1)
        assert await second.outbox.claim(post.id, later) is not None  # the first went quiet
        await second.outbox.mark_sent(post.id, later, SlackMessage("C1", "1.2"))
        assert await store.outbox.claim(post.id, later + timedelta(hours=1)) is None
    finally:
        await second.aclose()


async def test_a_post_waits_while_another_of_its_incident_is_on_its_way(store: Store):
    """Nothing overtakes what its incident sent before it, whichever process sends."""
    incident_id = await _posted_incident(store)
    [first] = await store.outbox.pending()
    assert await store.outbox.claim(first.id, NOW) is not None
    await store.outbox.mark_sent(first.id, NOW, SlackMessage("C1", "1.2"))
    await _queue(store, incident_id, PostKind.UPDATE, PostKind.REPLY)
    edit, note = await store.outbox.pending()
    other_id = await _posted_incident(store, "other")
    [_, _, other] = await store.outbox.pending()
    assert other.incident_id == other_id
    claimed = await store.outbox.claim(edit.id, NOW)
    assert claimed is not None
    assert await store.outbox.claim(note.id, NOW) is None  # its edit is on its way
    assert await store.outbox.claim(other.id, NOW) is not None  # another incident's: goes
    await store.outbox.mark_failed(edit.id, "Slack: 503", refused=False, claim=claimed.claim)
    assert await store.outbox.claim(note.id, NOW) is not None


async def test_a_claim_made_under_an_earlier_lease_is_free_at_once(store: Store):
    """A watcher killed while posting: the next holder sends the post without waiting
    out CLAIM_SECONDS."""
    second = await another(store)
    try:
        term = await store.watcher.take_lease("dead", NOW, LEASE)
        await _posted_incident(store)
        [post] = await store.outbox.pending()
        assert await store.outbox.claim(post.id, NOW, fence=term) is not None
        await store.watcher.release_lease("dead")  # as the lock does when its process dies
        next_term = await second.watcher.take_lease("next", NOW, LEASE)
        assert await second.outbox.claim(post.id, NOW, fence=next_term) is not None
    finally:
        await second.aclose()


async def test_two_processes_claiming_at_once_send_each_post_once(store: Store):
    import asyncio

    second = await another(store)
    try:
        for i in range(10):
            await _posted_incident(store, f"k{i}")
        pending = await store.outbox.pending()
        claims = await asyncio.gather(
            *(s.outbox.claim(post.id, NOW) for post in pending for s in (store, second))
        )
        won = sorted(claim.id for claim in claims if claim is not None)
        assert won == sorted(post.id for post in pending)
    finally:
        await second.aclose()


async def test_a_lease_that_ran_out_is_taken_though_its_holder_keeps_its_lock(store: Store):
    """Review of issue 16: a holder stuck, or cut off while the server keeps its session
    (and so its lock), kept every other process from watching for good."""
    second = await another(store)
    try:
        stuck = await store.watcher.take_lease("stuck", NOW, timedelta(minutes=3))
        assert stuck is not None
        assert await second.watcher.take_lease("next", NOW + timedelta(minutes=2), LEASE) is None
        taken = await second.watcher.take_lease("next", NOW + timedelta(minutes=4), LEASE)
        assert taken is not None and taken > stuck
        reading = credentials_reading(True, NOW)
        opened = Incident("k", reading.code, Severity.CRITICAL, NOW, NOW)
        with pytest.raises(LeaseLost):
            await store.incidents.apply(None, lambda _: Change(opened, reading), NOW, stuck)
        # Back, the stuck one finds the lease another's, stands by and lets its lock go:
        # the new holder then has it, and a death of its own is noticed at once again.
        later = NOW + timedelta(minutes=5)
        assert await store.watcher.take_lease("stuck", later, LEASE) is None
        assert await second.watcher.take_lease("next", later, LEASE) == taken
    finally:
        await second.aclose()


async def test_only_a_claim_s_holder_gives_it_back(store: Store):
    """Review of issue 16: a sender whose claim had passed to another (the lease changed
    hands) gave the post back on failing, and a third process sent it again."""
    second, third = await another(store), await another(store)
    try:
        old = await store.watcher.take_lease("old", NOW, LEASE)
        await _posted_incident(store)
        [post] = await store.outbox.pending()
        first = await store.outbox.claim(post.id, NOW, fence=old)
        assert first is not None
        await store.watcher.release_lease("old")
        new = await second.watcher.take_lease("new", NOW, LEASE)
        again = await second.outbox.claim(post.id, NOW, fence=new)  # the old term's: free
        assert again is not None and again.claim != first.claim
        await store.outbox.mark_failed(post.id, "Slack: 503", refused=False, claim=first.claim)
        assert await third.outbox.claim(post.id, NOW) is None  # still the new holder's
        # A button's claim (no fence) is not the watcher's: a new term leaves it alone.
        await second.outbox.mark_sent(post.id, NOW, SlackMessage("C1", "1.2"))
        incident_id = post.incident_id
        await _queue(store, incident_id, PostKind.UPDATE)
        [edit] = await store.outbox.pending()
        assert await third.outbox.claim(edit.id, NOW) is not None
        await second.watcher.release_lease("new")
        assert await store.watcher.take_lease("newer", NOW, LEASE) is not None
        assert new is not None
        assert await store.outbox.claim(edit.id, NOW, fence=new + 1) is None
    finally:
        await second.aclose()
        await third.aclose()


async def test_a_lease_taken_because_it_ran_out_leaves_its_holder_s_post_to_it(store: Store):
    """Second review of issue 16: the holder of a lease that ran out may be alive and
    mid-post (Slack rate limits can hold a post for minutes). Its claim stays in force
    until CLAIM_SECONDS pass, so the new holder does not send the post again."""
    second = await another(store)
    try:
        old = await store.watcher.take_lease("old", NOW, timedelta(minutes=4))
        await _posted_incident(store)
        [post] = await store.outbox.pending()
        assert await store.outbox.claim(post.id, NOW, fence=old) is not None
        later = NOW + timedelta(minutes=5)
        new = await second.watcher.take_lease("new", later, LEASE)
        assert new is not None
        assert await second.outbox.claim(post.id, later, fence=new) is None  # still the old's
        lapsed = NOW + timedelta(seconds=CLAIM_SECONDS + 1)
        assert await second.outbox.claim(post.id, lapsed, fence=new) is not None
    finally:
        await second.aclose()


async def test_a_lock_that_comes_free_does_not_prove_a_holder_without_it_gone(store: Store):
    """Second review of issue 16: a lease taken without the lock (its last holder kept
    the lock, stuck) was stolen from its live holder by the next process to get the lock
    once the stuck one let it go."""
    second, third = await another(store), await another(store)
    try:
        await store.watcher.take_lease("stuck", NOW, timedelta(minutes=4))
        later = NOW + timedelta(minutes=5)
        live = await second.watcher.take_lease("live", later, LEASE)  # the lock is busy
        assert live is not None
        assert await store.watcher.take_lease("stuck", later, LEASE) is None  # lets it go
        assert await third.watcher.take_lease("third", later, LEASE) is None  # not stolen
        # The live holder picks the lock up at its next cycle, as a holder should have it.
        assert await second.watcher.take_lease("live", later, LEASE) == live
    finally:
        await second.aclose()
        await third.aclose()


def _report(
    sid: str, status: str, minute: float, code: int | None = None, event: str = ""
) -> Report:
    at = NOW - timedelta(minutes=60 - minute)
    message = Message(
        sid,
        status,
        "+12025550156",
        "+15005550006",
        "outbound-api",
        error_code=code,
        date_created=at,
        date_updated=at,
    )
    return Report(event or f"EZ{sid[2:10]}{status}{minute}", message, at, "AC" + "0" * 32)


async def test_reports_are_stored_once_each_and_in_the_order_they_happened(store: Store):
    """Issue 18, item 1: Event Streams delivers at least once and in no order. The same
    event again is skipped by its id; `delivered` then a late `sent` stays delivered; of
    two final statuses the later change wins; a message first seen in a report is
    stored with the first change's time."""
    a, b = "SM" + "a" * 32, "SM" + "b" * 32
    first = [_report(a, "delivered", 5), _report(a, "sent", 1), _report(b, "undelivered", 3, 30003)]
    recorded = await store.messages.record_reports(first, NOW)
    assert (recorded.events, recorded.repeated, recorded.changed) == (3, 0, 2)
    again = await store.messages.record_reports([first[0], first[2], first[0]], NOW)
    assert (again.events, again.repeated, again.changed) == (0, 3, 0)
    held = {m.sid: m for m in await store.messages.by_sid([a, b])}
    assert (held[a].status, held[b].status, held[b].error_code) == (
        "delivered",
        "undelivered",
        30003,
    )
    assert held[a].date_created == NOW - timedelta(minutes=59)  # the `sent`, first
    # An earlier final change arriving late changes nothing; a later one does.
    await store.messages.record_reports([_report(b, "delivered", 2)], NOW)
    assert (await store.messages.by_sid([b]))[0].status == "undelivered"
    await store.messages.record_reports([_report(b, "delivered", 9)], NOW)
    assert (await store.messages.by_sid([b]))[0].status == "delivered"
    assert await store.messages.last_report() == NOW


async def test_a_poll_read_before_a_report_does_not_undo_it(store: Store):
    """Issue 18, item 1: the list read says `sent`, the event says `undelivered` and is
    stored first: the final status stays. A poll's save says how many final statuses it
    brought that the store did not hold (the sweep's findings)."""
    sid = "SM" + "c" * 32
    await store.messages.record_reports([_report(sid, "undelivered", 5, 30003)], NOW)
    stale = msg(50, status="sent", code=None, sid=sid)
    missed = msg(40, status="undelivered", sid="SM" + "d" * 32)
    assert await store.messages.save([stale, missed]) == 1
    held = {m.sid: m for m in await store.messages.by_sid([sid, missed.sid])}
    assert (held[sid].status, held[sid].error_code) == ("undelivered", 30003)
    assert held[sid].date_sent == stale.date_sent  # the poll's dates are taken
    assert await store.messages.save([missed]) == 0


async def test_reports_move_the_rollup_as_a_recount_says(store: Store):
    """Issue 18, item 1: events in counted hours move the counts once each, whether they
    create a message, change it, or come again."""
    rng = random.Random(18)
    messages = traffic(18, 30, NOW)
    await store.messages.save(messages)
    await store.messages.baseline(30003, NOW - timedelta(days=2), NOW)  # counts the hours
    reports = []
    for i, m in enumerate(rng.sample(messages, 200)):
        status = rng.choice(["delivered", "undelivered", "failed", "sent"])
        code = 30003 if status in ("undelivered", "failed") else None
        at = when(m) + timedelta(minutes=rng.randint(1, 30))
        reports.append(Report(f"EZ{i}", replace(m, status=status, error_code=code), at, "AC"))
    reports += [
        replace(r, event_id=r.event_id + "new", message=replace(r.message, sid=f"SMev{i:030x}"))
        for i, r in enumerate(reports[:50])
    ]
    await store.messages.record_reports(reports[::2], NOW)
    await store.messages.record_reports(reports, NOW)
    assert await rollup(store) == await _recounted(store)


async def test_event_ids_are_forgotten_after_a_while(store: Store):
    await store.messages.record_reports(
        [_report("SM" + "e" * 32, "sent", 1)], NOW - timedelta(hours=7)
    )
    await store.messages.record_reports([_report("SM" + "f" * 32, "sent", 1)], NOW)
    assert await store.messages.forget_reports(NOW - timedelta(hours=6)) == 1
    assert await count(store, "stream_events") == 1


async def test_a_late_report_is_judged_against_what_the_poll_read(store: Store):
    """Review of issue 18: the poll wrote `delivered` (Twilio's state, updated at minute
    3) over a report's `sent` of minute 1, leaving that report's time; a retried
    `undelivered` of minute 2 then replaced the delivery. The poll's status takes its
    `date_updated` as its time."""
    sid = "SM" + "7" * 32
    await store.messages.record_reports([_report(sid, "sent", 1)], NOW)
    at = NOW - timedelta(minutes=57)
    polled = replace(msg(59, status="delivered", code=None, sid=sid), date_updated=at)
    await store.messages.save([polled])
    await store.messages.record_reports([_report(sid, "undelivered", 2, 30003)], NOW)
    assert (await store.messages.by_sid([sid]))[0].status == "delivered"
    await store.messages.record_reports([_report(sid, "undelivered", 9, 30003)], NOW)
    assert (await store.messages.by_sid([sid]))[0].status == "undelivered"  # a later one


async def test_a_page_older_than_a_report_does_not_replace_its_final_status(store: Store):
    """Review of issue 18: a page read at minute 3 saying `delivered`, saved after the
    report of minute 4 saying `undelivered`, replaced it and counted it as missed."""
    sid = "SM" + "8" * 32
    await store.messages.record_reports([_report(sid, "undelivered", 4, 30003)], NOW)
    at = NOW - timedelta(minutes=57)
    page = replace(msg(59, status="delivered", code=None, sid=sid), date_updated=at)
    assert await store.messages.save([page]) == 0
    [held] = await store.messages.by_sid([sid])
    assert (held.status, held.error_code) == ("undelivered", 30003)
    assert held.date_sent == page.date_sent  # the page's dates are still taken
    newer = replace(page, date_updated=NOW)
    assert await store.messages.save([newer]) == 1  # a later page is Twilio's word
    assert (await store.messages.by_sid([sid]))[0].status == "delivered"


async def test_within_one_second_twilio_s_own_state_wins(store: Store):
    """Review of issue 18: pages give whole seconds, events milliseconds. A page's
    `delivered` of second S lost to a report of S.5 (the page is no older), and a
    report of S.7 then undid the delivery the page had read."""
    sid = "SM" + "5" * 32
    second = NOW - timedelta(minutes=50)
    report = _report(sid, "undelivered", 10, 30003)
    await store.messages.record_reports([replace(report, at=second + timedelta(seconds=0.5))], NOW)
    page = replace(msg(55, status="delivered", code=None, sid=sid), date_updated=second)
    assert await store.messages.save([page]) == 1
    assert (await store.messages.by_sid([sid]))[0].status == "delivered"
    late = replace(report, event_id="EZlate", at=second + timedelta(seconds=0.7))
    assert (await store.messages.record_reports([late], NOW)).changed == 0
    assert (await store.messages.by_sid([sid]))[0].status == "delivered"
    later = replace(report, event_id="EZlater", at=second + timedelta(seconds=1.2))
    assert (await store.messages.record_reports([later], NOW)).changed == 1


async def test_a_callback_s_final_status_is_not_undone_by_an_older_page(store: Store):
    """Review of issue 18: a status a StatusCallback set has no `status_at`; a page read
    before it came, saying another final status, replaced it. Its `date_updated` (when
    it came) is its time."""
    sid = "SM" + "4" * 32
    came = NOW - timedelta(minutes=10)
    callback = replace(msg(12, status="undelivered", sid=sid), date_updated=came)
    assert await store.messages.record_status(callback, None)
    page = replace(
        callback, status="delivered", error_code=None, date_updated=came - timedelta(minutes=1)
    )
    assert await store.messages.save([page]) == 0
    assert (await store.messages.by_sid([sid]))[0].status == "undelivered"
    newer = replace(page, date_updated=came + timedelta(minutes=1))
    assert await store.messages.save([newer]) == 1
    assert (await store.messages.by_sid([sid]))[0].status == "delivered"


async def test_each_message_keeps_the_account_that_sent_it(store: Store):
    """Issue 18, item 2 (groundwork for subaccounts): the account of a polled message
    and of one a report brought is kept, and comes back."""
    polled = replace(msg(30, sid="SM" + "9" * 32), account_sid="AC" + "1" * 32)
    await store.messages.save([polled])
    reported = "SM" + "6" * 32
    await store.messages.record_reports([_report(reported, "sent", 1)], NOW)
    held = {m.sid: m.account_sid for m in await store.messages.by_sid([polled.sid, reported])}
    assert held == {polled.sid: "AC" + "1" * 32, reported: "AC" + "0" * 32}
