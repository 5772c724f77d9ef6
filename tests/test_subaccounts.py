"""Subaccounts (WATCH_SUBACCOUNTS) through the real watcher on the simulator: listed with
the parent's credentials, each one's status and messages watched, its suspension and its
own spikes as incidents that name it, resolved when it recovers; Twilio requests per
cycle growing with the subaccounts that had traffic; on either backend."""

import itertools
from datetime import timedelta

import pytest

from bot import app as bot_app
from bot.domain.subaccounts import QUIET_ROUNDS
from bot.render.blocks import render
from bot.simulation.faults import Fault
from bot.tuning import Tuning
from bot.watcher.subaccounts import STATE
from tests.conftest import ACCOUNT_SID, make_settings
from tests.support import ask, texts
from tests.watching import NOW, World, header, posts

NUMBERS = itertools.count()


def send_from(scenario, account: str, count: int, minutes_ago: float, **fields) -> None:
    """`count` messages of `account` over the minute ending `minutes_ago` before NOW."""
    for i in range(count):
        moment = NOW - timedelta(minutes=minutes_ago, seconds=i * 60 / max(count, 1))
        to = fields.get("to") or f"+1202{next(NUMBERS) % 10_000_000:07d}"
        scenario.add_message(account, date_created=moment, **{**fields, "to": to})


def a_quiet_day(scenario, account: str, per_hour: int = 100) -> None:
    """A day of `per_hour` messages an hour, one in a hundred failing with 30003."""
    for hour in range(1, 24):
        send_from(scenario, account, per_hour - per_hour // 100, hour * 60, status="delivered")
        send_from(
            scenario, account, per_hour // 100, hour * 60, status="undelivered", error_code=30003
        )


@pytest.fixture
async def world(database_url, fake_slack, twilio_sim, tmp_path):
    w = World(fake_slack, twilio_sim, tmp_path, DATABASE_URL=database_url, WATCH_SUBACCOUNTS="all")
    await w.open()
    yield w
    await w.close()


async def test_a_suspended_subaccount_is_its_own_incident_named_and_resolved(
    world, scenario, twilio_sim, fake_slack
):
    acme = scenario.add_subaccount(ACCOUNT_SID, "Acme Corp")
    beta = scenario.add_subaccount(ACCOUNT_SID, "Beta Ltd", status="suspended")
    scenario.add_subaccount(ACCOUNT_SID, "Gone Inc", status="closed")
    a_quiet_day(scenario, ACCOUNT_SID)
    send_from(scenario, acme.sid, 20, 5, status="delivered")
    send_from(scenario, beta.sid, 3, 2, status="failed", error_code=30002)

    result = await world.cycle()

    [alert] = posts(fake_slack)
    assert header(alert) == (
        f"🔴 Critical: subaccount suspended (30002 Account suspended) · Beta Ltd ({beta.sid})"
    )
    suspended = [r for r in result.readings if r.code == 30002 and r.severity]
    assert [r.subaccount for r in suspended] == [beta.sid]
    assert suspended[0].failed == 3  # its own 30002s, not the parent's
    # The closed one is not read; the others are, with the parent's credentials.
    read = {r.path for r in twilio_sim.received if r.path.endswith("/Messages.json")}
    assert f"/2010-04-01/Accounts/{acme.sid}/Messages.json" in read
    assert f"/2010-04-01/Accounts/{beta.sid}/Messages.json" in read
    assert len(read) == 3
    stored = await world.store.messages.by_sid(acme_sids(scenario, acme.sid))
    assert len(stored) == 20 and {m.account_sid for m in stored} == {acme.sid}
    health = world.watcher.health
    assert health.subaccounts_watched == 2
    assert health.subaccounts_inactive == [f"Beta Ltd ({beta.sid})"]

    # /twilio status names it, among the open incidents and the subaccounts watched.
    status = await world.watcher.actions.status()
    [open_now] = [s for s in status.sections() if s.heading == "Open incidents"]
    assert [line.split(" · open since")[0] for line in open_now.items] == [
        f"critical · 30002 · Beta Ltd ({beta.sid})"
    ]
    facts = dict(status.facts())
    assert facts["Subaccounts"] == (
        f"2 watched, 2 read in the last cycle; not active: Beta Ltd ({beta.sid})"
    )
    [watched] = [s for s in status.sections() if s.heading.startswith("Watched")]
    assert f"30002 · Beta Ltd ({beta.sid}): suspended, 3 failed with 30002 in the window" in (
        watched.items
    )

    # The daily digest names it too.
    [incident] = await world.store.incidents.open_all()
    assert (
        await world.watcher.digests._name(incident)
        == f"30002 Account suspended · Beta Ltd ({beta.sid})"
    )

    # The same suspension next cycle: no second post.
    await world.cycle(minutes_later=1)
    assert len(posts(fake_slack)) == 1

    # Twilio reinstates it: resolved at the next cycle, on the same message.
    beta.status = "active"
    await world.cycle(minutes_later=1)
    assert len(posts(fake_slack)) == 1
    assert header(fake_slack.calls("chat.update")[-1]).startswith("✅ Resolved")
    assert await world.store.incidents.open_all() == []


def acme_sids(scenario, account: str) -> list[str]:
    return [m.sid for m in scenario.messages if m.account_sid == account]


async def test_a_subaccount_closed_while_suspended_resolves(world, scenario, fake_slack):
    beta = scenario.add_subaccount(ACCOUNT_SID, "Beta Ltd", status="suspended")
    await world.cycle()
    assert len(posts(fake_slack)) == 1
    beta.status = "closed"
    await world.cycle(minutes_later=1)
    assert await world.store.incidents.open_all() == []
    edited = fake_slack.calls("chat.update")[-1]
    assert header(edited) == (
        f"✅ Resolved: subaccount no longer watched (30002 Account suspended) · {beta.sid}"
    )
    assert "when it was no longer watched" in str(edited["blocks"])


async def test_a_spike_in_one_subaccount_is_its_incident_not_the_accounts(
    world, scenario, fake_slack
):
    acme = scenario.add_subaccount(ACCOUNT_SID, "Acme Corp")
    beta = scenario.add_subaccount(ACCOUNT_SID, "Beta Ltd")
    for account in (ACCOUNT_SID, acme.sid, beta.sid):
        a_quiet_day(scenario, account)
    # The last ten minutes: Acme's messages fail; the parent and Beta send as ever.
    for m in range(1, 11):
        send_from(scenario, acme.sid, 3, m, status="undelivered", error_code=30003)
        send_from(scenario, ACCOUNT_SID, 2, m, status="delivered")
        send_from(scenario, beta.sid, 2, m, status="delivered")

    result = await world.cycle()

    [alert] = posts(fake_slack)
    assert header(alert).endswith(f"· Acme Corp ({acme.sid})")
    assert header(alert).startswith("🔴 Critical: 30003")
    [own] = [r for r in result.readings if r.code == 30003 and r.subaccount]
    assert own.failed == 30 and own.final == 30
    assert own.samples and set(own.samples) <= set(acme_sids(scenario, acme.sid))
    [account] = [r for r in result.readings if r.code == 30003 and not r.subaccount]
    assert account.severity is None  # Acme's failures are its own incident, not told twice
    # The account's figures are what is left: the parent's and Beta's, none failing.
    assert (account.failed, account.final) == (0, 40)
    [incident] = await world.store.incidents.open_all()
    assert incident.key.startswith(f"{acme.sid}:30003:")
    status = await world.watcher.actions.status()
    [watched] = [s for s in status.sections() if s.heading.startswith("Watched")]
    assert any(
        line.startswith(f"30003 · Acme Corp ({acme.sid}): 100.0% of 30 in the window (its own")
        for line in watched.items
    )

    # Acme fails harder, to most of the traffic: still its incident alone, never the
    # account's too.
    send_from(scenario, acme.sid, 400, -1, status="undelivered", error_code=30003)
    result = await world.cycle(minutes_later=1)
    assert len(posts(fake_slack)) == 1
    assert [i.key.split(":")[0] for i in await world.store.incidents.open_all()] == [acme.sid]

    # Acme recovers: its incident resolves after the quiet checks.
    world.now += timedelta(minutes=15)
    for m in range(16):
        send_from(scenario, acme.sid, 3, -1 - m, status="delivered")
    for _ in range(4):
        await world.cycle(minutes_later=1)
    assert await world.store.incidents.open_all() == []
    assert header(fake_slack.calls("chat.update")[-1]).startswith("✅ Resolved")


async def test_only_the_listed_subaccounts_are_watched(
    database_url, scenario, twilio_sim, fake_slack, tmp_path
):
    acme = scenario.add_subaccount(ACCOUNT_SID, "Acme Corp", status="suspended")
    beta = scenario.add_subaccount(ACCOUNT_SID, "Beta Ltd", status="suspended")
    world = World(
        fake_slack, twilio_sim, tmp_path, DATABASE_URL=database_url, WATCH_SUBACCOUNTS=acme.sid
    )
    await world.open()
    try:
        await world.cycle()
        keys = [i.key for i in await world.store.incidents.open_all()]
    finally:
        await world.close()
    assert keys == [f"{acme.sid}:30002:account"]
    read = {r.path for r in twilio_sim.received if r.path.endswith("/Messages.json")}
    assert f"/2010-04-01/Accounts/{beta.sid}/Messages.json" not in read
    assert f"/2010-04-01/Accounts/{acme.sid}/Messages.json" in read


async def test_a_cycles_requests_grow_with_the_subaccounts_that_had_traffic(
    world, scenario, twilio_sim
):
    busy = [scenario.add_subaccount(ACCOUNT_SID, f"Busy {i}") for i in range(2)]
    quiet = [scenario.add_subaccount(ACCOUNT_SID, f"Quiet {i}") for i in range(30)]
    for sub in busy:
        send_from(scenario, sub.sid, 5, 3, status="delivered")
    await world.cycle()  # the first reads every one
    first = {r.path for r in twilio_sim.received if r.path.endswith("/Messages.json")}
    assert len(first) == 33

    seen: set[str] = set()
    for _ in range(QUIET_ROUNDS):
        twilio_sim.received.clear()
        await world.cycle(minutes_later=1)
        read = [r.path for r in twilio_sim.received if r.path.endswith("/Messages.json")]
        # The parent, both busy ones, and a tenth of the quiet ones (3 of 30).
        assert len(read) == 1 + 2 + 3
        assert sum(r.path.endswith("/Accounts.json") for r in twilio_sim.received) == 1
        seen.update(read)
    # Within QUIET_ROUNDS cycles every quiet one was read again.
    assert {f"/2010-04-01/Accounts/{s.sid}/Messages.json" for s in quiet} <= seen

    # A quiet one starts sending: read every cycle from when it is next read.
    send_from(scenario, quiet[0].sid, 5, -QUIET_ROUNDS - 1, status="delivered")
    for _ in range(QUIET_ROUNDS):
        await world.cycle(minutes_later=1)
    twilio_sim.received.clear()
    await world.cycle(minutes_later=1)
    read = [r.path for r in twilio_sim.received if r.path.endswith("/Messages.json")]
    assert f"/2010-04-01/Accounts/{quiet[0].sid}/Messages.json" in read
    assert len(read) == 1 + 3 + 3


async def test_when_the_list_fails_the_last_one_stands(world, scenario, twilio_sim, fake_slack):
    beta = scenario.add_subaccount(ACCOUNT_SID, "Beta Ltd")
    await world.cycle()
    assert await world.store.watcher.get(STATE)
    twilio_sim.faults.append(Fault(path_contains="/Accounts.json", status=500, times=100))
    beta.status = "suspended"  # not seen while the list fails: its messages still are
    send_from(scenario, beta.sid, 2, -1, status="failed", error_code=30002)
    result = await world.cycle(minutes_later=2)
    assert world.watcher.health.subaccounts_problem
    assert world.watcher.health.subaccounts_watched == 1
    [own] = [r for r in result.readings if r.subaccount == beta.sid]
    assert own.severity is not None and own.failed == 2
    [alert] = posts(fake_slack)
    assert f"Beta Ltd ({beta.sid})" in header(alert)


@pytest.mark.parametrize("watch", ["all", "listed", ""])
async def test_why_finds_a_message_in_a_watched_subaccount(
    watch, scenario, twilio_sim, fake_slack, tmp_path, aiohttp_client
):
    acme = scenario.add_subaccount(ACCOUNT_SID, "Acme Corp")
    for i in range(5):  # others first: the one that has it is not the first asked
        scenario.add_subaccount(ACCOUNT_SID, f"Other {i}")
    send_from(scenario, acme.sid, 1, 3, status="undelivered", error_code=30003)
    [message] = [m for m in scenario.messages if m.account_sid == acme.sid]
    send_from(scenario, acme.sid, 2, 60, status="undelivered", error_code=30003, to=message.to)
    chosen = {"all": "all", "listed": acme.sid, "": ""}[watch]
    settings = make_settings(fake_slack, tmp_path, twilio_sim, WATCH_SUBACCOUNTS=chosen)
    live = await aiohttp_client(bot_app.build(settings, Tuning(twilio_backoff_seconds=0.01)))
    reply = await ask(live, fake_slack, f"why {message.sid}", "r")
    content = texts(reply["blocks"])
    if not watch:
        assert f"Message {message.sid}" not in content
        assert "no message" in content.lower() or "not found" in content.lower()
        return
    assert f"Message {message.sid} · undelivered" in content
    # The recipient's history is the subaccount's: three in a row to this number.
    assert "3 messages in a row to this number failed with 30003" in content
    # Asked again, the store says whose it is: one fetch, from the subaccount.
    twilio_sim.received.clear()
    await ask(live, fake_slack, f"why {message.sid}", "r2")
    fetches = [r.path for r in twilio_sim.received if f"/Messages/{message.sid}" in r.path]
    assert fetches == [f"/2010-04-01/Accounts/{acme.sid}/Messages/{message.sid}.json"]


async def test_a_number_in_a_friendly_name_is_masked_where_it_is_posted(
    world, scenario, fake_slack
):
    scenario.add_subaccount(ACCOUNT_SID, "Client +14155550100", status="suspended")
    await world.cycle()
    [alert] = posts(fake_slack)
    assert "+1•••••••100" in header(alert) and "4155550100" not in str(alert)
    [incident] = await world.store.incidents.open_all()
    name = await world.watcher.digests._name(incident)
    assert "+1•••••••100" in name and "4155550100" not in name


async def test_the_parents_own_outage_is_the_accounts_incident_named_after_it(
    world, scenario, fake_slack
):
    acme = scenario.add_subaccount(ACCOUNT_SID, "Acme Corp")
    for account in (ACCOUNT_SID, acme.sid):
        a_quiet_day(scenario, account)
    for m in range(1, 11):
        send_from(scenario, ACCOUNT_SID, 3, m, status="undelivered", error_code=30003)
        send_from(scenario, acme.sid, 6, m, status="delivered")
    result = await world.cycle()
    [alert] = posts(fake_slack)
    assert header(alert).startswith(f"🔴 Critical: 30003 · account {ACCOUNT_SID}")
    assert "First, for this account" in str(alert["blocks"])
    assert not [r for r in result.readings if r.subaccount and r.severity]
    [incident] = await world.store.incidents.open_all()
    assert incident.key.startswith(f"{ACCOUNT_SID}:30003:")


async def test_a_subaccount_with_all_the_traffic_is_still_named(world, scenario, fake_slack):
    acme = scenario.add_subaccount(ACCOUNT_SID, "Acme Corp")
    for account in (ACCOUNT_SID, acme.sid):
        a_quiet_day(scenario, account)
    for m in range(1, 11):  # at night: Acme alone sends, and fails
        send_from(scenario, acme.sid, 3, m, status="undelivered", error_code=30003)
    await world.cycle()
    [alert] = posts(fake_slack)
    assert header(alert).endswith(f"· Acme Corp ({acme.sid})")
    [incident] = await world.store.incidents.open_all()
    assert incident.key.startswith(f"{acme.sid}:30003:")


async def test_the_parents_suspension_is_one_incident_not_one_a_subaccount(
    world, scenario, fake_slack
):
    subs = [scenario.add_subaccount(ACCOUNT_SID, f"Client {i}") for i in range(5)]
    await world.cycle()
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    for sub in subs:  # Twilio suspends the subaccounts with their parent
        sub.status = "suspended"
        send_from(scenario, sub.sid, 2, -1, status="failed", error_code=30002)
    await world.cycle(minutes_later=2)
    [alert] = posts(fake_slack)
    assert header(alert).startswith("🔴 Critical: account suspended")
    scenario.accounts[ACCOUNT_SID].status = "active"
    for sub in subs:
        sub.status = "active"
    await world.cycle(minutes_later=1)
    assert await world.store.incidents.open_all() == []
    assert len(posts(fake_slack)) == 1


async def test_only_subaccounts_with_a_30002_cost_a_query(world, scenario, monkeypatch):
    subs = [scenario.add_subaccount(ACCOUNT_SID, f"Client {i}") for i in range(20)]
    subs[3].status = "suspended"
    send_from(scenario, subs[3].sid, 2, 1, status="failed", error_code=30002)
    asked = []
    failures = world.store.messages.failures

    async def counting(code, since, until, segment=None):
        if segment is not None:
            asked.append(segment.value)
        return await failures(code, since, until, segment)

    monkeypatch.setattr(world.store.messages, "failures", counting)
    result = await world.cycle()
    [own] = [r for r in result.readings if r.subaccount]
    assert own.failed == 2
    # The parent's own 30002s, and the one subaccount that had any: not all twenty.
    assert sorted(asked) == sorted([ACCOUNT_SID, subs[3].sid])


async def test_a_subaccount_with_more_than_a_walk_is_read_back_over_cycles(
    database_url, scenario, twilio_sim, fake_slack, tmp_path
):
    acme = scenario.add_subaccount(ACCOUNT_SID, "Acme Corp")
    for hour in range(1, 7):  # 63 messages over six hours: pages of 10, 2 a walk
        send_from(scenario, acme.sid, 10 + (hour == 1) * 3, hour * 60, status="delivered")
    tuning = Tuning(page_size=10, max_pages=2, backfill_pages=2)
    world = World(
        fake_slack,
        twilio_sim,
        tmp_path,
        tuning,
        DATABASE_URL=database_url,
        WATCH_SUBACCOUNTS="all",
    )
    await world.open()
    try:
        await world.cycle()
        assert world.watcher.health.subaccounts_reading_back == 1
        status = await world.watcher.actions.status()
        assert "1 still reading back older messages" in dict(status.facts())["Subaccounts"]
        for _ in range(5):
            await world.cycle(minutes_later=1)
        stored = await world.store.messages.by_sid(acme_sids(scenario, acme.sid))
        assert len(stored) == 63
        assert world.watcher.health.subaccounts_reading_back == 0
    finally:
        await world.close()


async def test_a_subaccount_twilio_fails_is_named_in_status(world, scenario, twilio_sim):
    acme = scenario.add_subaccount(ACCOUNT_SID, "Acme Corp")
    scenario.add_subaccount(ACCOUNT_SID, "Beta Ltd")
    twilio_sim.faults.append(Fault(path_contains=f"{acme.sid}/Messages", status=500, times=100))
    await world.cycle()
    assert world.watcher.health.subaccounts_failed == [f"Acme Corp ({acme.sid})"]
    status = await world.watcher.actions.status()
    assert (
        f"Twilio failed the read of Acme Corp ({acme.sid})" in dict(status.facts())["Subaccounts"]
    )
    # Read again next cycle (never read, it is due), and the mark clears.
    twilio_sim.faults.clear()
    await world.cycle(minutes_later=1)
    assert world.watcher.health.subaccounts_failed == []


async def test_an_unreadable_stored_state_is_read_afresh(world, scenario, fake_slack):
    beta = scenario.add_subaccount(ACCOUNT_SID, "Beta Ltd", status="suspended")
    naive = '{"AC1": {"newest": "2026-01-01T00:00:00", "read_at": "2026-01-01T00:00:00+00:00"}}'
    for bad in ("not json", '{"AC1": {"newest": "yesterday"}}', "[1, 2]", naive):
        await world.store.watcher.put(STATE, bad)
        await world.cycle(minutes_later=1)
        assert world.watcher.health.subaccounts_watched == 1
    assert [i.key for i in await world.store.incidents.open_all()] == [f"{beta.sid}:30002:account"]


def test_quiet_subaccounts_read_a_cycle_are_capped():
    from datetime import UTC, datetime

    from bot.domain import subaccounts
    from bot.domain.subaccounts import QUIET_MOST, Subaccount

    now = datetime(2026, 12, 3, tzinfo=UTC)
    day_ago = now - timedelta(days=1)
    quiet = [Subaccount(f"AC{i:032d}", "", "active", day_ago, day_ago) for i in range(1000)]
    busy = [Subaccount("AC" + "f" * 32, "", "active", now, now)]
    due = subaccounts.due(busy + quiet, timedelta(minutes=30), now)
    assert len(due) == 1 + QUIET_MOST and due[0] == busy[0]


async def test_why_says_when_twilio_failed_a_subaccount_it_asked(
    scenario, twilio_sim, fake_slack, tmp_path, aiohttp_client
):
    acme = scenario.add_subaccount(ACCOUNT_SID, "Acme Corp")
    scenario.add_subaccount(ACCOUNT_SID, "Beta Ltd")
    send_from(scenario, acme.sid, 1, 3, status="undelivered", error_code=30003)
    [message] = [m for m in scenario.messages if m.account_sid == acme.sid]
    twilio_sim.faults.append(Fault(path_contains=f"{acme.sid}/Messages/", status=503, times=50))
    settings = make_settings(fake_slack, tmp_path, twilio_sim, WATCH_SUBACCOUNTS="all")
    live = await aiohttp_client(bot_app.build(settings, Tuning(twilio_backoff_seconds=0.01)))
    reply = await ask(live, fake_slack, f"why {message.sid}", "r")
    content = texts(reply["blocks"])
    assert "nor in its 2 watched subaccount(s); Twilio failed for 1 of them" in content


async def test_the_parents_outage_is_not_hidden_by_healthy_subaccounts(world, scenario, fake_slack):
    subs = [scenario.add_subaccount(ACCOUNT_SID, f"Client {i}") for i in range(3)]
    for account in (ACCOUNT_SID, *(s.sid for s in subs)):
        a_quiet_day(scenario, account)
    for m in range(1, 11):
        send_from(scenario, ACCOUNT_SID, 1, m, status="undelivered", error_code=30003)
        send_from(scenario, ACCOUNT_SID, 2, m, status="delivered")
        for sub in subs:  # 60 healthy messages a minute elsewhere: 1.6 % overall
            send_from(scenario, sub.sid, 20, m, status="delivered")
    await world.cycle()
    [alert] = posts(fake_slack)
    assert header(alert).startswith("🔴 Critical: 30003")
    [incident] = await world.store.incidents.open_all()
    assert incident.key.startswith(f"{ACCOUNT_SID}:30003:")


async def test_the_accounts_list_is_read_page_by_page(scenario, twilio_sim, tmp_path):
    from bot.adapters.twilio import TwilioApi
    from bot.adapters.twilio.accounts import subaccounts

    made = {scenario.add_subaccount(ACCOUNT_SID, f"Client {i:04d}").sid for i in range(1005)}
    twilio = TwilioApi(make_settings(None, tmp_path, twilio_sim))
    try:
        found = await subaccounts(twilio)
    finally:
        await twilio.close()
    assert {a.sid for a in found} == made  # the parent itself left out
    pages = [r for r in twilio_sim.received if r.path.endswith("/Accounts.json")]
    assert len(pages) == 2


def test_an_open_subaccount_incident_stays_while_its_own_figures_break_the_rule():
    """Its segment's test may stop firing (here: a budget no test passes), yet while its
    incident is open, the account's rule on its own figures keeps it firing, and its
    messages stay out of the account's rule."""
    from dataclasses import replace as replaced
    from datetime import UTC, datetime

    from bot import settings
    from bot.domain.failures import Failures
    from bot.domain.spikes import Baseline, tally
    from bot.domain.subaccounts import Subaccount
    from bot.domain.traffic import counted
    from bot.tuning import DEFAULT_TUNING
    from bot.watcher import detect

    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    thresholds = settings.load({}).thresholds
    acme = Subaccount("AC" + "a" * 32, "Acme", "active")
    parent = (None, "+15005550006", None, ACCOUNT_SID)
    theirs = (None, "+15005550006", None, acme.sid)
    window = counted(
        [(parent, 100), (theirs, 40)],
        [(theirs, 30003, f"+1202000{i:04d}", 1) for i in range(20)],
    )

    def readings(open_now: frozenset[str]):
        evidence = detect.Evidence(
            counted=tally([], thresholds.window, now),
            failures={code: Failures() for code in (30002, 30003)},
            fresh_suspensions=None,
            carriers={},
            baselines={code: Baseline(10_000, 100) for code in (30002, 30003)},
            watched_since=None,
            spans=((15, window),),
            subaccounts=(acme,),
            open_subaccounts={30003: open_now},
        )
        budget = replaced(DEFAULT_TUNING.segment_budget, alpha=1e-300)  # no test passes
        until = now - timedelta(minutes=45)
        return detect.readings(evidence, (30003,), thresholds, budget, "active", until, now)

    [_, account, *own] = readings(frozenset({acme.sid}))
    assert [(r.subaccount, r.severity is not None, r.failed, r.final) for r in own] == [
        (acme.sid, True, 20, 40)
    ]
    assert account.final == 100 and account.failed == 0
    # With no incident open, the rule alone does not open one: that is the test's part.
    [_, account, *own] = readings(frozenset())
    assert own == []


async def test_a_friendly_name_cannot_mention_the_channel(world, scenario, fake_slack):
    scenario.add_subaccount(ACCOUNT_SID, "<!channel> Acme <@U123>", status="suspended")
    await world.cycle()
    [alert] = posts(fake_slack)
    assert "<!channel>" not in alert["text"] and "<@U123>" not in alert["text"]
    status = await world.watcher.actions.status()
    text, blocks = render(status)
    assert "<!channel>" not in text + str(blocks)
