"""Detection: one watcher evaluation against a week of a busy account.

Builds a store holding DAYS x PER_DAY synthetic outbound messages (1 % 30003, a few
30007; generated inside SQLite, so a week of 1 000 000 a day takes a minute or two), then,
in a fresh process, times the watcher's detection step as a cycle runs it: every watched
code measured over its window, against its 7-day baseline, and each incident decided.
Reports the first (cold) and the median of the following evaluations, one at the turn
of an hour (when each segment's history is read again), the database
size and the process's peak RSS.

    python bench/detection.py [--per-day 1000000] [--days 7] [--database PATH]

A database given with --database is built once and reused by later runs.
"""

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import ACCOUNT, TOKEN, drop_page_cache, peak_rss_mb, report, run_contender

EVALUATIONS = 7
# The destination countries, two letters each: half the traffic goes to the US, the rest
# evenly over these 25; 50 senders; 30 carriers known for two messages in five.
COUNTRIES = "USGBCADEFRESITNLBEATCHSEDKNOFIPLPTIEBRMXARCLCOAU"


def build(
    path: Path, per_day: int, days: int, now: datetime, spike: bool = False, spread: bool = True
) -> None:
    """Fill a new store at `path` with `days` of messages ending at `now`; with `spike`,
    one message in seven of the last hour fails with 30003 (about 15 %, with the 1 %).
    With `spread`, their countries and carriers are spread as COUNTRIES says (detection
    per segment has something to judge); without, each is stored as the bot would store
    it (the US, from its number; no carrier known), so saving one again changes nothing."""
    import sqlite3

    from bot.store.sqlite import SqliteStore

    SqliteStore(str(path)).close()  # the tables, as the bot makes them
    db = sqlite3.connect(path)
    start = (now - timedelta(days=days)).timestamp()
    total = per_day * days
    step = 86_400 / per_day
    spike_from = total - per_day // 24 if spike else total  # the last hour's first row
    # One statement: SQLite generates the rows itself, about a microsecond each.
    db.execute(
        """
        with recursive n(i) as (select 0 union all select i + 1 from n where i < ? - 1)
        insert into messages (sid, status, [to], from_, direction, error_code,
                              num_segments, price, date_created, date_sent, date_updated,
                              country, carrier)
        select
            printf('SM%032x', i),
            case when i % 100 = 7 or (i >= ? and i % 7 = 1) then 'undelivered'
                 when i % 500 = 3 then 'failed' else 'delivered' end,
            printf('+1202555%04d', (i * 7919) % 10000),
            printf('+1500555%04d', (i * 13) % 50),
            'outbound-api',
            case when i % 100 = 7 or (i >= ? and i % 7 = 1) then 30003
                 when i % 500 = 3 then 30007 end,
            1,
            '-0.00790',
            strftime('%Y-%m-%dT%H:%M:%S+00:00', ? + i * ?, 'unixepoch'),
            case when i % 500 = 3 then null
                 else strftime('%Y-%m-%dT%H:%M:%S+00:00', ? + i * ?, 'unixepoch') end,
            strftime('%Y-%m-%dT%H:%M:%S+00:00', ? + i * ?, 'unixepoch'),
            case when i % 2 = 0 or not ? then 'US'
                 else substr(?, 2 * ((i * 7919) % 997 % 25) + 1, 2) end,
            case when ? and i % 5 < 2 then printf('Carrier %d', (i * 17) % 30) end
        from n
        """,
        [
            *(total, spike_from, spike_from, start, step, start, step, start, step),
            *(spread, COUNTRIES, spread),
        ],
    )
    db.commit()
    db.close()


def evaluate(path: str, now_iso: str) -> dict[str, Any]:
    from bot import settings
    from bot.answers.curated import curated_directory, load_curated
    from bot.store.sqlite import SqliteStore
    from bot.watcher.config import WatcherConfig
    from bot.watcher.cycle import Watcher
    from bot.watcher.reads import SegmentHistories, measure

    now = datetime.fromisoformat(now_iso)
    config = settings.load(
        {
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_ALERT_CHANNEL": "CBENCH",
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "DATABASE_PATH": path,
        }
    )

    def watching(store: SqliteStore) -> Watcher:
        # Detection reads only the store: no Twilio or Slack is reached.
        return Watcher(
            WatcherConfig.from_settings(config),
            store,
            None,  # type: ignore[arg-type]
            None,
            load_curated(curated_directory(), config.policy),
            lambda: now,
        )

    # The week's hours counted first, whole: a cycle spreads that first count over several
    # (bench/upkeep.py measures it); what is timed below is detection on a kept rollup.
    store = SqliteStore(path)
    started = time.perf_counter()
    asyncio.run(store.messages.baseline(30003, now - timedelta(days=7), now, None))
    first_count = time.perf_counter() - started
    # Then the first evaluation reads from the disk, on connections that have read
    # nothing yet, as the first after a restart does.
    store.close()
    drop_page_cache(Path(path))
    store = SqliteStore(path)
    watcher = watching(store)

    async def evaluate_once() -> tuple[Any, Any]:
        readings = await measure(store, watcher.config, "active", now, watcher.histories)
        term = await store.watcher.take_lease(watcher.owner, now, timedelta(hours=1))
        assert term is not None  # the bench's own database: nobody else watches it
        return readings, [await watcher._decide(reading, now, term) for reading in readings]

    seconds = []
    for _ in range(EVALUATIONS):
        started = time.perf_counter()
        readings, steps = asyncio.run(evaluate_once())
        seconds.append(time.perf_counter() - started)
    # Once an hour the segments' histories are read again (warm pages): that evaluation.
    hourly = []
    for _ in range(3):
        watcher.histories = SegmentHistories()
        started = time.perf_counter()
        asyncio.run(evaluate_once())
        hourly.append(time.perf_counter() - started)
    store.close()
    return {
        "first_count_seconds": first_count,
        "seconds": seconds,
        "hourly_seconds": statistics.median(hourly),
        "readings": [
            {"code": r.code, "final": r.final, "failed": r.failed, "baseline": r.baseline}
            for r in readings
        ],
        "incidents": sum(step.incident is not None for step in steps),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--database", type=Path, help="build once here and reuse")
    parser.add_argument(
        "--spike", action="store_true", help="the last hour fails with 30003 at about 15 %%"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.database or Path(tmp) / "detection.db"
        meta = path.with_suffix(".json")
        if path.exists() and meta.exists():
            now = datetime.fromisoformat(json.loads(meta.read_text())["now"])
            print(f"detection: reusing {path}")
            built = None
        else:
            now = datetime.now(UTC).replace(microsecond=0)
            print(f"detection: building {args.days} x {args.per_day} messages …", flush=True)
            started = time.perf_counter()
            build(path, args.per_day, args.days, now, args.spike)
            built = time.perf_counter() - started
            meta.write_text(json.dumps({"now": now.isoformat()}))
        size_mb = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20
        result = run_contender(Path(__file__), str(path), now.isoformat())
    cold, warm = result["seconds"][0], statistics.median(result["seconds"][1:])
    rows = [
        ("messages in the store", f"{args.days * args.per_day:,}"),
        ("database size", f"{size_mb:,.0f} MB"),
        ("the week's hours counted, once", f"{result['first_count_seconds']:.1f} s"),
        ("evaluation, first (page cache cold, new process)", f"{cold * 1000:,.0f} ms"),
        (f"evaluation, median of next {EVALUATIONS - 1}", f"{warm * 1000:,.0f} ms"),
        (
            "evaluation at the turn of an hour (segment histories read again)",
            f"{result['hourly_seconds'] * 1000:,.0f} ms",
        ),
        ("peak RSS of the evaluating process", f"{result['peak_rss_mb']:.0f} MB"),
        *(
            (f"reading {r['code']}", f"{r['failed']} of {r['final']}, baseline {r['baseline']}")
            for r in result["readings"]
        ),
    ]
    if built is not None:
        rows.insert(2, ("time to build it", f"{built:.0f} s"))
    report(
        ("detection-spike" if args.spike else "detection")
        + ("" if args.per_day == 1_000_000 else f"-{args.per_day / 1e6:g}m"),
        rows,
        {
            "messages": args.days * args.per_day,
            "database_mb": size_mb,
            "build_seconds": built,
            "first_count_seconds": result["first_count_seconds"],
            "evaluation_cold_ms": cold * 1000,
            "evaluation_median_ms": warm * 1000,
            "evaluation_hourly_ms": result["hourly_seconds"] * 1000,
            "peak_rss_mb": result["peak_rss_mb"],
            "readings": result["readings"],
        },
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["contender"]:
        print(json.dumps(evaluate(*sys.argv[2:])))
    else:
        main()
