"""Backfill: a busy account's first day, read to the end over several cycles.

The simulated account (its own process, LATENCY_MS a request) holds messages at PER_DAY a
day over the last BACKFILL_HOURS (less six minutes). The bot's watcher (in this process,
storing into a fresh SQLite file) runs cycle after cycle until it has read back all of
them: the first cycle reads the newest 250 000 (a cycle's most), each one after it
100 000 more. After each cycle the
script records what the watcher says meanwhile: how far back the stored history reaches
(`/twilio status` "History", `/healthz` history_since) and the hours the 30003
baseline rests on.

    python bench/backfill.py [--per-day 1000000] [--latency-ms 50]
"""

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import TwilioProcess, bench_watcher, peak_rss_mb, report, run_contender

HOURS = 24  # BACKFILL_HOURS, as bench_watcher sets it


def watch(origin: str) -> dict[str, Any]:
    async def main(database: str) -> dict[str, Any]:
        store, twilio, watcher = bench_watcher(origin, database, posting=False)
        cycles = []
        try:
            while True:
                started = time.perf_counter()
                result = await watcher.cycle()
                seconds = time.perf_counter() - started
                coverage = await store.watcher.coverage()
                assert coverage is not None
                status = await watcher.actions.status()
                reading = next(r for r in result.readings if r.code == 30003)
                now = datetime.now(UTC)
                cycles.append(
                    {
                        "read": result.ingested,
                        "seconds": seconds,
                        "history_hours": (now - coverage.since).total_seconds() / 3600,
                        "baseline_hours": reading.baseline_hours,
                        "status_says": dict(status.facts()).get("History"),
                    }
                )
                if coverage.reading_back is None:
                    break
        finally:
            await twilio.close()
            store.close()
        with sqlite3.connect(database) as db:
            [(stored,)] = db.execute("select count(*) from messages").fetchall()
        return {"cycles": cycles, "stored": stored, "peak_rss_mb": peak_rss_mb()}

    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(main(str(Path(tmp) / "backfill.db")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=int, default=1_000_000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    print(f"backfill: {args.per_day:,} messages over {HOURS} h, {args.latency_ms:g} ms a request")
    # The account's span ends a few minutes inside BACKFILL_HOURS, so every message in it
    # is one the watcher is to read, however long the simulator takes to start.
    span = HOURS - 0.1
    messages = round(args.per_day * span / 24)
    with TwilioProcess(messages, span, args.latency_ms) as twilio:
        result = run_contender(Path(__file__), twilio.origin)
    cycles = result["cycles"]
    rows = [("cycle", "read   seconds   history stored   baseline rests on   status says")]
    for i, c in enumerate(cycles, 1):
        baseline = "whole" if c["baseline_hours"] is None else f"{c['baseline_hours']:.1f} h"
        rows.append(
            (
                str(i),
                f"{c['read']:>7,}  {c['seconds']:>7.1f}   {c['history_hours']:>5.1f} h   "
                f"{baseline:>8}   {c['status_says'] or '(nothing: all read)'}",
            )
        )
    rows += [
        ("messages stored", f"{result['stored']:,} of the account's {messages:,}"),
        ("all cycles", f"{sum(c['seconds'] for c in cycles):.0f} s"),
        ("peak RSS of the watching process", f"{result['peak_rss_mb']:.0f} MB"),
    ]
    report(
        "backfill",
        rows,
        {"per_day": args.per_day, "latency_ms": args.latency_ms, **result},
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["contender"]:
        import json

        print(json.dumps(watch(sys.argv[2])))
    else:
        main()
