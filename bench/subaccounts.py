"""Subaccounts: what a cycle costs when the watcher watches many subaccounts, few of them
busy (WATCH_SUBACCOUNTS=all).

The simulated parent account (its own process, LATENCY_MS a request) has SUBACCOUNTS
subaccounts; BUSY of them, and the parent, send PER_HOUR messages an hour, the others
sent nothing for a day. The watcher (in this process, a fresh SQLite file) runs a first
cycle (every subaccount read once), then CYCLES steady cycles with new messages for
the busy ones before each. For each cycle: the requests the simulator received (the
Accounts list, Messages pages, the rest), the messages read, and the cycle's time.

The contender is the same watcher reading every watched subaccount every cycle (its
quiet ones included), as a watcher without the busy/quiet split would: the ratio of
requests and of time per steady cycle is the point.

    python bench/subaccounts.py [--subaccounts 100] [--busy 5] [--per-hour 600]
                                [--latency-ms 50] [--cycles 12]
"""

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from harness import ACCOUNT, TOKEN, bench_watcher, peak_rss_mb, report
from ingest import authorized

from bot.simulation.scenario import Scenario, make_sid
from bot.simulation.serving import serving
from bot.simulation.simulator import Simulator


def _traffic(scenario: Scenario, account: str, count: int, start: datetime, end: datetime) -> None:
    step = (end - start) / max(count, 1)
    for i in range(count):
        created = start + step * i
        failing = i % 100 == 0
        scenario.add_message(
            account,
            sid=make_sid("SM", account, created.isoformat(), i),
            to=f"+1202555{i % 5000:04d}",
            status="undelivered" if failing else "delivered",
            error_code=30003 if failing else None,
            date_created=created,
            date_sent=created,
        )


def serve(argv: list[str]) -> None:
    """`python bench/subaccounts.py serve SUBACCOUNTS BUSY PER_HOUR LATENCY_MS`: prints
    its origin, serves until stdin closes. `POST /bench/add?seconds=S` adds S seconds of
    the busy ones' traffic; `GET /bench/requests` counts what it received, by kind."""
    subaccounts, busy, per_hour, latency_ms = (
        int(argv[0]),
        int(argv[1]),
        int(argv[2]),
        float(argv[3]),
    )
    scenario = Scenario()
    scenario.add_account(ACCOUNT, TOKEN)
    subs = [scenario.add_subaccount(ACCOUNT, f"Client {i:03d}").sid for i in range(subaccounts)]
    sending = [ACCOUNT, *subs[:busy]]
    now = datetime.now(UTC)
    for account in sending:
        _traffic(scenario, account, per_hour * 2, now - timedelta(hours=2), now)
    for account in subs[busy:]:  # quiet for a day
        _traffic(scenario, account, 20, now - timedelta(hours=26), now - timedelta(hours=25))
    simulator = Simulator(scenario)
    simulator.latency_seconds = latency_ms / 1000

    async def add(request: web.Request) -> web.Response:
        seconds = float(request.query["seconds"])
        end = datetime.now(UTC)
        for account in sending:
            count = max(1, round(per_hour * seconds / 3600))
            _traffic(scenario, account, count, end - timedelta(seconds=seconds), end)
        return web.json_response({"messages": len(scenario.messages)})

    async def requests(_: web.Request) -> web.Response:
        kinds: Counter[str] = Counter()
        for r in simulator.received:
            if r.path.startswith("/bench"):
                continue
            if r.path.endswith("/Accounts.json"):
                kinds["accounts"] += 1
            elif r.path.endswith("/Messages.json"):
                kinds["messages"] += 1
            else:
                kinds["other"] += 1
        return web.json_response(dict(kinds))

    async def main() -> None:
        app = simulator.app()
        bench = web.Application()
        bench.router.add_post("/add", add)
        bench.router.add_get("/requests", requests)
        app.add_subapp("/bench", bench)
        async with serving(app) as origin:
            print(origin, flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())


def _get(origin: str, path: str, method: str = "GET") -> dict[str, Any]:
    request = authorized(origin + path)
    request.method = method
    with urllib.request.urlopen(request) as answer:
        return dict(json.load(answer))


async def watch(origin: str, database: str, cycles: int, every_one: bool) -> list[dict[str, Any]]:
    """The watcher's cycles: a first, then `cycles` steady ones. `every_one`: the
    contender, reading every watched subaccount each cycle."""
    from bot.tuning import Tuning

    # The contender: every quiet one is due every cycle.
    tuning = Tuning(quiet_rounds=1, quiet_most=1_000_000) if every_one else None
    store, twilio, watcher = bench_watcher(origin, database, False, tuning, WATCH_SUBACCOUNTS="all")
    found = []
    interval = 60.0  # POLL_INTERVAL_SECONDS: each steady cycle brings a minute's messages
    try:
        for i in range(cycles + 1):
            if i:
                _get(origin, f"/bench/add?seconds={interval}", "POST")
            before = Counter(_get(origin, "/bench/requests"))
            started = time.perf_counter()
            result = await watcher.cycle()
            seconds = time.perf_counter() - started
            asked = Counter(_get(origin, "/bench/requests"))
            asked.subtract(before)
            found.append(
                {
                    "seconds": seconds,
                    "read": result.ingested,
                    "requests": sum(asked.values()),
                    "messages_pages": asked["messages"],
                    "accounts_pages": asked["accounts"],
                    "subaccounts_read": watcher.health.subaccounts_read,
                }
            )
    finally:
        await twilio.close()
        store.close()
    return found


def contender(argv: list[str]) -> None:
    """`python bench/subaccounts.py contender ORIGIN CYCLES EVERY_ONE`: one JSON line."""
    origin, cycles, every_one = argv[0], int(argv[1]), argv[2] == "1"
    with tempfile.TemporaryDirectory() as folder:
        found = asyncio.run(watch(origin, str(Path(folder) / "bot.db"), cycles, every_one))
    print(json.dumps({"cycles": found, "peak_rss_mb": peak_rss_mb()}))


def _run(args: argparse.Namespace, every_one: bool) -> dict[str, Any]:
    """A fresh simulator and a fresh watcher process for one side."""
    import subprocess

    script = str(Path(__file__).resolve())
    server = subprocess.Popen(
        [
            sys.executable,
            script,
            "serve",
            str(args.subaccounts),
            str(args.busy),
            str(args.per_hour),
            str(args.latency_ms),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        origin = server.stdout.readline().strip()
        done = subprocess.run(
            [
                sys.executable,
                script,
                "contender",
                origin,
                str(args.cycles),
                "1" if every_one else "0",
            ],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subaccounts", type=int, default=100)
    parser.add_argument("--busy", type=int, default=5)
    parser.add_argument("--per-hour", type=int, default=600)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--cycles", type=int, default=12)
    args = parser.parse_args()
    split = _run(args, every_one=False)
    naive = _run(args, every_one=True)

    def steady(side: dict[str, Any], key: str) -> float:
        return float(statistics.median(c[key] for c in side["cycles"][1:]))

    rows = []
    for name, side in (
        ("busy every cycle, quiet a tenth", split),
        ("every one every cycle", naive),
    ):
        first = side["cycles"][0]
        rows += [
            (
                f"{name}: first cycle",
                f"{first['requests']} requests ({first['messages_pages']} Messages pages, "
                f"{first['accounts_pages']} Accounts list), {first['read']:,} messages, "
                f"{first['seconds']:.2f} s",
            ),
            (
                f"{name}: steady cycle (median of {args.cycles})",
                f"{steady(side, 'requests'):.0f} requests, "
                f"{steady(side, 'subaccounts_read'):.0f} subaccounts read, "
                f"{steady(side, 'read'):.0f} messages, {steady(side, 'seconds'):.3f} s",
            ),
        ]
    rows += [
        (
            "steady cycle, every one / busy and a tenth",
            f"{steady(naive, 'requests') / steady(split, 'requests'):.1f}x the requests, "
            f"{steady(naive, 'seconds') / steady(split, 'seconds'):.1f}x the time",
        ),
    ]
    report(
        "subaccounts" if args.subaccounts == 100 else f"subaccounts-{args.subaccounts}",
        rows,
        {
            "subaccounts": args.subaccounts,
            "busy": args.busy,
            "per_hour": args.per_hour,
            "latency_ms": args.latency_ms,
            "split": split,
            "every_one": naive,
        },
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2:])
    elif sys.argv[1:2] == ["contender"]:
        contender(sys.argv[2:])
    else:
        main()
