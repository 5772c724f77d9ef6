"""PostgreSQL going away: down when the bot starts, stopped mid-watch, restarted. What
needs no database still answers, the rest says the database is unavailable, health and
`/twilio status` name it, and the watcher loses nothing once the server is back. Each
test has a cluster of its own, since it stops it."""

import asyncio
from collections.abc import Iterator

import pytest

from bot.errors import StoreError
from bot.store import schema
from bot.store.postgresql import PostgresStore
from tests.backends import count
from tests.conftest import ACCOUNT_SID
from tests.postgres import SKIP_REASON, Cluster, server_binaries
from tests.support import ask, until
from tests.watching import app_watcher, posts, watching_app

UNAVAILABLE = "The bot's database is unavailable"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    bindir = server_binaries()
    if bindir is None:
        pytest.skip(SKIP_REASON)
    own = Cluster(bindir)
    own.start()
    try:
        yield own
    finally:
        own.remove()


async def healthz(client) -> tuple[int, dict[str, object]]:
    response = await client.get("/healthz")
    return response.status, await response.json()


@pytest.mark.slow
async def test_stopped_mid_watch_the_bot_says_so_and_loses_nothing(
    cluster, fake_slack, twilio_sim, scenario, tmp_path, aiohttp_client
):
    client = await watching_app(
        aiohttp_client, fake_slack, twilio_sim, tmp_path, "0.1", database_url=cluster.url()
    )
    watcher = app_watcher(client)
    await until(lambda: watcher.health.cycles >= 1)
    await asyncio.to_thread(cluster.stop)
    # The account is suspended while the database is down.
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    await until(lambda: watcher.health.database_problem is not None)
    assert posts(fake_slack) == []  # nothing decided without the database
    status, health = await healthz(client)
    assert status == 503 and health["status"] == "database failing"
    # A curated explanation needs no database.
    explained = await ask(client, fake_slack, "why 30003", "explain")
    assert "30003" in explained["text"] and UNAVAILABLE not in explained["text"]
    # An uncurated code too: what ships with the bot, without the imported dictionary.
    uncurated = await ask(client, fake_slack, "why 30500", "uncurated")
    assert "30500" in str(uncurated) and UNAVAILABLE not in str(uncurated)
    # `/twilio status` names the problem; a message needs the database, and says so.
    said = await ask(client, fake_slack, "status", "status")
    assert "database" in str(said).lower()
    answered = await ask(client, fake_slack, f"why SM{'a' * 32}", "sid")
    assert answered["text"].startswith(UNAVAILABLE)
    await asyncio.to_thread(cluster.resume)
    # The next cycles get through: the suspension is alerted, once.
    await until(lambda: len(posts(fake_slack)) == 1, 30)
    await until(lambda: watcher.health.database_problem is None, 30)
    status, health = await healthz(client)
    assert status == 200 and health["status"] == "ok"
    assert "suspended" in str(posts(fake_slack)[0]).lower()


@pytest.mark.slow
async def test_down_at_start_the_bot_serves_and_catches_up(
    cluster, fake_slack, twilio_sim, scenario, tmp_path, aiohttp_client
):
    await asyncio.to_thread(cluster.stop)
    scenario.accounts[ACCOUNT_SID].status = "suspended"
    client = await watching_app(
        aiohttp_client, fake_slack, twilio_sim, tmp_path, "0.1", database_url=cluster.url()
    )
    explained = await ask(client, fake_slack, "why 30003", "explain")
    assert "30003" in explained["text"]
    await asyncio.to_thread(cluster.resume)
    # The first call that gets through brings the schema up first; then the alert.
    await until(lambda: len(posts(fake_slack)) == 1, 30)


@pytest.mark.slow
async def test_a_store_opened_while_the_server_is_down_migrates_once_it_answers(cluster):
    await asyncio.to_thread(cluster.stop)
    store = PostgresStore(cluster.url())
    with pytest.raises(StoreError, match="unavailable"):
        await store.open()
    with pytest.raises(StoreError, match="unavailable"):
        await store.dictionary.size()
    await asyncio.to_thread(cluster.resume)
    try:
        # Calls fail fast while the pool reconnects (with its backoff), then get through.
        async with asyncio.timeout(30):
            while True:
                try:
                    assert await store.dictionary.size() == 0  # the tables are there
                    break
                except StoreError:
                    await asyncio.sleep(0.1)
        assert await count(store, "_migrations") == len(schema.HISTORY)
    finally:
        await store.aclose()
