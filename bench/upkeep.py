"""Upkeep: what keeping the store costs the writer, which every command's write waits
behind (issue 19's rows "after 50 why SM…" and "prune after a day down").

Builds a store of DAYS x PER_DAY synthetic messages (as bench/detection.py does), then
measures:

- the week's first count into the hourly rollup, as cycles do it: a time budget a call;
- 50 `why SM…`: each stores a recipient's month of history again, as `why` does; then the
  next baseline. Before the rollup was kept up to date, those writes emptied up to 160
  hours, and the next baseline counted them again (2-2.7 s measured by the issue).
- a steady cycle's settle re-read: the last SETTLE_MINUTES of messages stored again as
  the poll reads them, unchanged and with one in a hundred changed by a late receipt;
- retention after a day down: the day of messages past RETENTION_DAYS pruned as a cycle
  does, a batch a transaction; the longest transaction is how long a command's write can
  wait behind it (10.3 s in one go, measured by the issue).

    python bench/upkeep.py [--per-day 1000000] [--days 3] [--database PATH]
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from detection import build
from harness import report

RECIPIENTS = 50
SETTLE_MINUTES = 30  # the default SETTLE_MINUTES


async def measure(path: str, now: datetime, days: int) -> dict[str, Any]:
    from bot.store.sqlite import SqliteStore
    from bot.tuning import DEFAULT_TUNING

    store = SqliteStore(path)
    figures: dict[str, Any] = {}
    try:
        week = now - timedelta(days=7)
        # The week's first count as cycles do it, a budget a call, until it is whole.
        calls = []
        while True:
            started = time.perf_counter()
            counted = await store.messages.baseline(
                30003, week, now, DEFAULT_TUNING.baseline_seconds_per_cycle
            )
            calls.append(time.perf_counter() - started)
            if counted.hours is None:
                break
        figures["first_count"] = {
            "calls": len(calls),
            "longest_seconds": max(calls),
            "total_seconds": sum(calls),
        }

        # 50 `why SM…`: each recipient's month of history, stored again.
        recipients = [f"+1202555{(i * 7919) % 10000:04d}" for i in range(RECIPIENTS)]
        saves = []
        written = 0
        for to in recipients:
            history = await store.messages.to_number(to, now - timedelta(days=30), limit=500)
            started = time.perf_counter()
            await store.messages.save(history)
            saves.append(time.perf_counter() - started)
            written += len(history)
        figures["why_saves"] = {
            "messages": written,
            "median_seconds": statistics.median(saves),
            "max_seconds": max(saves),
        }
        started = time.perf_counter()
        await store.messages.baseline(30003, week, now)
        figures["baseline_after_whys_seconds"] = time.perf_counter() - started

        # A steady cycle's re-read: the settle window comes back from Twilio as stored,
        # but for a few late receipts (one in a hundred here), saved a batch at a time.
        window = await store.messages.recent(now - timedelta(minutes=SETTLE_MINUTES))
        late = [replace(m, status="undelivered", error_code=30005) for m in window[::100]]
        resaves = {}
        for name, listed in (("unchanged", window), ("one_in_100_changed", [*window, *late])):
            started = time.perf_counter()
            batch = DEFAULT_TUNING.save_batch
            for i in range(0, len(listed), batch):
                await store.messages.save(listed[i : i + batch])
            resaves[name] = time.perf_counter() - started
        figures["settle_reread"] = {"messages": len(window), "changed": len(late), **resaves}

        # Retention after a day down: the oldest day is past the limit, pruned in batches.
        before = now - timedelta(days=days - 1)
        batches = []
        pruned = 0
        while True:
            started = time.perf_counter()
            gone = await store.messages.prune(before, DEFAULT_TUNING.prune_batch)
            batches.append(time.perf_counter() - started)
            pruned += gone
            if gone < DEFAULT_TUNING.prune_batch:
                break
        figures["prune"] = {
            "messages": pruned,
            "batches": len(batches),
            "batch_size": DEFAULT_TUNING.prune_batch,
            "longest_batch_seconds": max(batches),
            "total_seconds": sum(batches),
        }
    finally:
        store.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--database", type=Path, help="build here (it is changed: not reused)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.database or Path(tmp) / "upkeep.db"
        now = datetime.now(UTC).replace(microsecond=0)
        print(f"upkeep: building {args.days} x {args.per_day} messages …", flush=True)
        build(path, args.per_day, args.days, now, spread=False)
        figures = asyncio.run(measure(str(path), now, args.days))
    figures |= {"per_day": args.per_day, "days": args.days}
    first, why, prune = figures["first_count"], figures["why_saves"], figures["prune"]
    settle = figures["settle_reread"]
    rows = [
        ("messages in the store", f"{args.days * args.per_day:,}"),
        (
            "the week's first count, as cycles do it",
            f"{first['calls']} calls; longest {first['longest_seconds'] * 1000:.0f} ms, "
            f"all {first['total_seconds']:.1f} s",
        ),
        (
            f"{RECIPIENTS} why SM…: histories stored again",
            f"{why['messages']:,} messages; a save {why['median_seconds'] * 1000:.0f} ms "
            f"median, {why['max_seconds'] * 1000:.0f} ms max",
        ),
        ("the next baseline", f"{figures['baseline_after_whys_seconds'] * 1000:.0f} ms"),
        (
            "a steady cycle's settle re-read, stored again",
            f"{settle['messages']:,} messages: {settle['unchanged'] * 1000:.0f} ms unchanged, "
            f"{settle['one_in_100_changed'] * 1000:.0f} ms with {settle['changed']} changed",
        ),
        (
            "retention, a day past the limit",
            f"{prune['messages']:,} messages in {prune['batches']} batches of "
            f"{prune['batch_size']:,}; longest {prune['longest_batch_seconds'] * 1000:.0f} ms, "
            f"all {prune['total_seconds']:.1f} s",
        ),
    ]
    report("upkeep", rows, figures)


if __name__ == "__main__":
    main()
