"""Backfill: a busy account's first day, read to the end over several cycles.

The simulated account (its own process, LATENCY_MS a request) holds messages at PER_DAY a
day over the last BACKFILL_HOURS and two hours more, and gains new ones between cycles.
The bot's watcher (in this process, storing into a fresh SQLite file) runs cycle after
cycle until it has read back all of BACKFILL_HOURS: the first cycle reads the newest
250 000 (a cycle's most), each one after it 100 000 more. After each cycle the script
records what the watcher says meanwhile: how far back the stored history reaches
(`/twilio status` "History", `/healthz` history_since) and the hours the 30003 baseline
rests on.

Last, it checks that the store holds every message the account holds from where the first
walk was to begin, and none before.

    python bench/backfill.py [--per-day 1000000] [--latency-ms 50]
"""

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from harness import TwilioProcess, bench_watcher, peak_rss_mb, report, run_contender
from ingest import add_messages, authorized

HOURS = 24  # BACKFILL_HOURS, as bench_watcher sets it


def held_since(origin: str, since: str) -> int:
    """How many messages the simulated account holds created from `since` on."""
    request = authorized(f"{origin}/bench/count?{urlencode({'since': since})}")
    with urllib.request.urlopen(request) as answer:
        return int(json.load(answer)["messages"])


def watch(origin: str, per_day: int) -> dict[str, Any]:
    async def main(database: str) -> dict[str, Any]:
        store, twilio, watcher = bench_watcher(origin, database, posting=False)
        cycles: list[dict[str, Any]] = []
        down_to = None
        try:
            while True:
                if cycles:  # messages keep coming, as the reading back goes on
                    add_messages(origin, max(1, round(per_day * cycles[-1]["seconds"] / 86_400)))
                started = time.perf_counter()
                result = await watcher.cycle()
                seconds = time.perf_counter() - started
                coverage = await store.watcher.coverage()
                assert coverage is not None
                if down_to is None:  # where the first walk was to begin
                    back = coverage.reading_back
                    down_to = coverage.since if back is None else back.down_to
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
        # Every message the account holds from where the first walk was to begin.
        assert down_to is not None
        since = down_to.isoformat()
        with sqlite3.connect(database) as db:
            [(stored, before)] = db.execute(
                "select count(*) filter (where date_created >= ?), "
                "count(*) filter (where date_created < ?) from messages",
                [since, since],
            ).fetchall()
        return {
            "cycles": cycles,
            "stored": stored,
            "stored_before_start": before,
            "account_since_start": held_since(origin, since),
            "peak_rss_mb": peak_rss_mb(),
        }

    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(main(str(Path(tmp) / "backfill.db")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=int, default=1_000_000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    print(f"backfill: {args.per_day:,} messages over {HOURS} h, {args.latency_ms:g} ms a request")
    # Two hours more than BACKFILL_HOURS: the reading back must stop where it should.
    span = HOURS + 2
    messages = round(args.per_day * span / 24)
    with TwilioProcess(messages, span, args.latency_ms) as twilio:
        result = run_contender(Path(__file__), twilio.origin, str(args.per_day))
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
        (
            "messages stored from where the first walk began",
            f"{result['stored']:,} of the account's {result['account_since_start']:,}; "
            f"{result['stored_before_start']:,} older",
        ),
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
        print(json.dumps(watch(sys.argv[2], int(sys.argv[3]))))
    else:
        main()
