"""PostgreSQL against SQLite: ingest, detection over a week, and the driver chosen.

Each part starts a throwaway PostgreSQL 15 cluster on 127.0.0.1 (fsync on, as deployed),
and the SQLite store runs as the bot runs it (WAL, synchronous=NORMAL).

- `ingest`: MESSAGES messages over 20 hours stored as the watcher stores them (batches of
  10 000), then a steady cycle's settle window saved again unchanged, then again with a
  tenth of it changed; and the watcher's first cycle reading all of them from the
  simulated account (its own process, LATENCY_MS a request).
- `detection`: a week of 1 000 000 messages a day built by `bench/detection.py`
  (--database, and with --spike-database the spiking one) moved into PostgreSQL with
  `db copy` (timed), the week's hours counted once, the server restarted and its files
  dropped from the page cache, then one detection evaluation as a cycle runs it: the
  first (cold) and the median of six more.
- `drivers`: psycopg 3 (the one the bot uses) against asyncpg, each with its pool: a
  COPY of MESSAGES rows, and 2 000 one-row queries one after another. asyncpg is not a
  dependency: `pip install asyncpg` first, or this part says it is missing.

    python bench/postgres.py ingest [--messages 100000] [--latency-ms 50]
    python bench/postgres.py detection --database PATH [--spike-database PATH]
    python bench/postgres.py drivers [--messages 100000]
"""

import argparse
import asyncio
import importlib
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import ACCOUNT, TOKEN, TwilioProcess, postgres_server, report

SAVE_BATCH = 10_000  # the watcher's save batch (bot/tuning.py)
SETTLE = 21_000  # a steady cycle's settle re-read at 1 M a day (README, Performance)
EVALUATIONS = 7


def synthetic(count: int, now: datetime, seed: int = 3) -> list[Any]:
    from bot.domain.messages import Message

    rng = random.Random(seed)
    step = timedelta(hours=20) / count
    found = []
    for i in range(count):
        created = now - timedelta(hours=20) + step * i
        roll = rng.random() * 100
        status, code = ("undelivered", 30003) if roll < 1 else ("delivered", None)
        found.append(
            Message(
                sid=f"SM{i:032x}",
                status=status,
                to=f"+1202555{rng.randrange(5000):04d}",
                from_="+15005550006",
                direction="outbound-api",
                error_code=code,
                num_segments=1,
                price="-0.00790",
                date_created=created,
                date_sent=created,
                date_updated=created,
            )
        )
    return found


async def store_ingest(store: Any, messages: list[Any]) -> dict[str, float]:
    from dataclasses import replace

    await store.open()
    try:
        started = time.perf_counter()
        for i in range(0, len(messages), SAVE_BATCH):
            await store.messages.save(messages[i : i + SAVE_BATCH])
        first = time.perf_counter() - started
        settle = messages[-SETTLE:]
        started = time.perf_counter()
        await store.messages.save(settle)
        unchanged = time.perf_counter() - started
        changed = [
            replace(m, status="undelivered", error_code=30007) if i % 10 == 0 else m
            for i, m in enumerate(settle)
        ]
        started = time.perf_counter()
        await store.messages.save(changed)
        tenth = time.perf_counter() - started
        return {"first": first, "unchanged": unchanged, "tenth_changed": tenth}
    finally:
        await store.aclose()


async def first_cycle(origin: str, database_path: str, database_url: str) -> dict[str, float]:
    from bot import settings
    from bot.adapters.twilio import TwilioApi
    from bot.answers.curated import curated_directory, load_curated
    from bot.store.backends import store_for
    from bot.watcher.config import WatcherConfig
    from bot.watcher.cycle import Watcher

    config = settings.load(
        {
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_API_URL": origin,
            "DATABASE_PATH": database_path,
            "DATABASE_URL": database_url,
            "BACKFILL_HOURS": "24",
        }
    )
    store = store_for(config.database_url, config.database_path)
    await store.open()
    twilio = TwilioApi(config)
    watcher = Watcher(
        WatcherConfig.from_settings(config),
        store,
        twilio,
        None,
        load_curated(curated_directory(), config.policy),
    )
    try:
        started = time.perf_counter()
        result = await watcher.cycle()
        return {"seconds": time.perf_counter() - started, "messages": result.ingested}
    finally:
        await twilio.close()
        await store.aclose()


def ingest(args: argparse.Namespace) -> None:
    from bot.store.postgresql import PostgresStore
    from bot.store.sqlite import SqliteStore

    now = datetime.now(UTC).replace(microsecond=0)
    messages = synthetic(args.messages, now)
    figures: dict[str, Any] = {"messages": args.messages, "latency_ms": args.latency_ms}
    with postgres_server() as cluster, tempfile.TemporaryDirectory() as tmp:
        print(f"ingest: {args.messages:,} messages into each store …", flush=True)
        figures["store_sqlite"] = asyncio.run(
            store_ingest(SqliteStore(str(Path(tmp) / "a.db")), messages)
        )
        figures["store_postgresql"] = asyncio.run(
            store_ingest(PostgresStore(cluster.url(cluster.new_database())), messages)
        )
        print("ingest: the watcher's first cycle on each …", flush=True)
        with TwilioProcess(args.messages, 20, args.latency_ms) as twilio:
            figures["cycle_sqlite"] = asyncio.run(
                first_cycle(twilio.origin, str(Path(tmp) / "b.db"), "")
            )
            figures["cycle_postgresql"] = asyncio.run(
                first_cycle(twilio.origin, "", cluster.url(cluster.new_database()))
            )
    rows = []
    for part, label in (
        ("first", f"{args.messages:,} messages stored, {SAVE_BATCH:,} a batch"),
        ("unchanged", f"a settle window of {SETTLE:,} saved again, unchanged"),
        ("tenth_changed", "the same with a tenth of it changed"),
    ):
        lite, pg = figures["store_sqlite"][part], figures["store_postgresql"][part]
        rows.append((label, f"SQLite {lite:.2f} s · PostgreSQL {pg:.2f} s · x{pg / lite:.2f}"))
    lite, pg = figures["cycle_sqlite"]["seconds"], figures["cycle_postgresql"]["seconds"]
    rows.append(
        (
            f"the watcher's first cycle ({figures['cycle_sqlite']['messages']:,} read)",
            f"SQLite {lite:.1f} s · PostgreSQL {pg:.1f} s · x{pg / lite:.2f}",
        )
    )
    report("postgres-ingest", rows, figures)


async def evaluations(url: str, now: datetime, cluster: Any) -> dict[str, Any]:
    from harness import drop_page_cache

    from bot import settings
    from bot.answers.curated import curated_directory, load_curated
    from bot.store.postgresql import PostgresStore
    from bot.watcher.config import WatcherConfig
    from bot.watcher.cycle import Watcher
    from bot.watcher.reads import measure

    config = settings.load(
        {
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_ALERT_CHANNEL": "CBENCH",
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "DATABASE_URL": url,
        }
    )
    store = PostgresStore(url)
    await store.open()
    started = time.perf_counter()
    await store.messages.baseline(30003, now - timedelta(days=7), now, None)
    first_count = time.perf_counter() - started
    await store.aclose()
    # Cold: the server restarted (its buffers empty) and its files out of the page cache.
    await asyncio.to_thread(cluster.stop, "fast")
    for path in cluster.data.rglob("*"):
        if path.is_file():
            drop_page_cache(path)
    await asyncio.to_thread(cluster.resume)
    store = PostgresStore(url)
    await store.open()
    watcher = Watcher(
        WatcherConfig.from_settings(config),
        store,
        None,  # type: ignore[arg-type]  # detection reads only the store
        None,
        load_curated(curated_directory(), config.policy),
        lambda: now,
    )
    seconds = []
    try:
        for _ in range(EVALUATIONS):
            started = time.perf_counter()
            readings = await measure(store, watcher.config, "active", now, watcher.histories)
            term = await store.watcher.take_lease(watcher.owner, now, timedelta(hours=1))
            assert term is not None
            steps = [await watcher._decide(reading, now, term) for reading in readings]
            seconds.append(time.perf_counter() - started)
    finally:
        await store.aclose()
    return {
        "first_count_seconds": first_count,
        "seconds": seconds,
        "readings": [
            {"code": r.code, "final": r.final, "failed": r.failed, "baseline": r.baseline}
            for r in readings
        ],
        "incidents": sum(step.incident is not None for step in steps),
    }


def detection(args: argparse.Namespace) -> None:
    from bot.store.copying import copy_sqlite_to

    figures: dict[str, Any] = {}
    rows = []
    cases = [("quiet", args.database), ("spike", args.spike_database)]
    with postgres_server() as cluster:
        for name, path in cases:
            if path is None:
                continue
            now = datetime.fromisoformat(json.loads(path.with_suffix(".json").read_text())["now"])
            url = cluster.url(cluster.new_database())
            print(f"detection ({name}): copying {path} into PostgreSQL …", flush=True)
            started = time.perf_counter()
            copied = asyncio.run(copy_sqlite_to(path, url))
            copy_seconds = time.perf_counter() - started
            # What autovacuum does after a bulk load (PostgreSQL 13 and later vacuum after
            # inserts too): the visibility map set, so index-only scans skip the heap.
            started = time.perf_counter()
            asyncio.run(_vacuum(url))
            vacuum_seconds = time.perf_counter() - started
            result = asyncio.run(evaluations(url, now, cluster))
            result["vacuum_seconds"] = vacuum_seconds
            result["copy_seconds"] = copy_seconds
            result["copied"] = copied
            figures[name] = result
            cold, warm = result["seconds"][0], statistics.median(result["seconds"][1:])
            rows += [
                (f"{name}: db copy of {copied['messages']:,} messages", f"{copy_seconds:.0f} s"),
                (f"{name}: vacuum after the copy, as autovacuum does", f"{vacuum_seconds:.0f} s"),
                (
                    f"{name}: the week's hours counted, once",
                    f"{result['first_count_seconds']:.1f} s",
                ),
                (f"{name}: evaluation, first (server restarted, cold)", f"{cold * 1000:,.0f} ms"),
                (f"{name}: evaluation, median of next {EVALUATIONS - 1}", f"{warm * 1000:,.0f} ms"),
                *(
                    (
                        f"{name}: reading {r['code']}",
                        f"{r['failed']} of {r['final']}, baseline {r['baseline']}",
                    )
                    for r in result["readings"]
                ),
            ]
    report("postgres-detection", rows, figures)


async def psycopg_figures(url: str, rows: list[tuple[Any, ...]]) -> dict[str, float]:
    from psycopg_pool import AsyncConnectionPool

    async with AsyncConnectionPool(url, min_size=1, max_size=4) as pool:
        async with pool.connection() as conn:
            await conn.execute(
                "create table t_psycopg (sid text primary key, n int, at timestamptz)"
            )
        started = time.perf_counter()
        async with (
            pool.connection() as conn,
            conn.cursor() as cursor,
            cursor.copy("copy t_psycopg (sid, n, at) from stdin (format binary)") as copy,
        ):
            copy.set_types(["text", "int4", "timestamptz"])  # as the bot's save does
            for row in rows:
                await copy.write_row(row)
        copy_seconds = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(2000):
            async with pool.connection() as conn:
                cursor = await conn.execute("select n from t_psycopg where sid = %s", [rows[i][0]])
                await cursor.fetchone()
        query_seconds = time.perf_counter() - started
    return {"copy": copy_seconds, "queries": query_seconds}


async def asyncpg_figures(url: str, rows: list[tuple[Any, ...]]) -> dict[str, float]:
    asyncpg = importlib.import_module("asyncpg")  # not a dependency: see `drivers`
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    try:
        async with pool.acquire() as conn:
            await conn.execute(
                "create table t_asyncpg (sid text primary key, n int, at timestamptz)"
            )
        started = time.perf_counter()
        async with pool.acquire() as conn:
            await conn.copy_records_to_table("t_asyncpg", records=rows, columns=["sid", "n", "at"])
        copy_seconds = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(2000):
            async with pool.acquire() as conn:
                await conn.fetchrow("select n from t_asyncpg where sid = $1", rows[i][0])
        query_seconds = time.perf_counter() - started
    finally:
        await pool.close()
    return {"copy": copy_seconds, "queries": query_seconds}


def drivers(args: argparse.Namespace) -> None:
    try:
        importlib.import_module("asyncpg")
    except ImportError:
        sys.exit("drivers: asyncpg is not installed (pip install asyncpg; not a dependency)")
    now = datetime.now(UTC)
    rows = [(f"SM{i:032x}", i, now) for i in range(args.messages)]
    figures: dict[str, Any] = {"rows": args.messages}
    with postgres_server() as cluster:
        url = cluster.url(cluster.new_database())
        for _ in range(2):  # the second round is the one kept: both warm
            figures["psycopg"] = asyncio.run(psycopg_figures(url, rows))
            figures["asyncpg"] = asyncio.run(asyncpg_figures(url, rows))
            asyncio.run(_drop(url))
    p, a = figures["psycopg"], figures["asyncpg"]
    table = [
        (
            f"COPY of {args.messages:,} rows",
            f"psycopg {p['copy']:.2f} s · asyncpg {a['copy']:.2f} s",
        ),
        (
            "2 000 one-row queries, one after another",
            f"psycopg {p['queries']:.2f} s · asyncpg {a['queries']:.2f} s",
        ),
    ]
    report("postgres-drivers", table, figures)


async def _vacuum(url: str) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("vacuum (analyze) messages")


async def _drop(url: str) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("drop table if exists t_psycopg, t_asyncpg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = parser.add_subparsers(dest="part", required=True)
    one = parts.add_parser("ingest")
    one.add_argument("--messages", type=int, default=100_000)
    one.add_argument("--latency-ms", type=float, default=50.0)
    two = parts.add_parser("detection")
    two.add_argument("--database", type=Path, required=True, help="from bench/detection.py")
    two.add_argument("--spike-database", type=Path, help="from bench/detection.py --spike")
    three = parts.add_parser("drivers")
    three.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    {"ingest": ingest, "detection": detection, "drivers": drivers}[args.part](args)


if __name__ == "__main__":
    main()
