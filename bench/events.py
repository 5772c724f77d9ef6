"""Events: how many Event Streams events one bot process stores a second, and how long
each batch waits for its answer against the 5 s Twilio gives a sink.

The bot runs as in production (`python -m bot`, watching, with PUBLIC_URL set so its sink
at /twilio/events is on), against the simulated Twilio (its own process, for the
watcher's first cycle) and a Slack stand-in. This script plays Twilio's Event Streams:
each message is a `sent` event and, later, its receipt (1 % undelivered with 30003, so
the watcher is nudged as it would be), every event signed as Twilio signs, in batches
of 1, 10, 100 and 500, first one batch at a time, then CONCURRENT at once. Then the same
on PostgreSQL with one process, and with two replicas sharing the database (batches sent
to each in turn, as Twilio's sink URL behind a platform's router would spread them).

    python bench/events.py [--events 20000] [--concurrent 8]
"""

import argparse
import asyncio
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from commands import bot_env, free_port, percentile, slack_stand_in
from harness import ACCOUNT, TOKEN, TwilioProcess, postgres_server, report
from replicas import up

from bot.simulation.event_streams import STATUS_TYPES, EventStreams, status_event
from bot.simulation.scenario import Scenario, make_sid
from bot.simulation.serving import serving

BATCHES = (1, 10, 100, 500)
MESSAGES = 2_000  # the account's history the watcher's first cycle reads


def make_events(count: int, seed: int) -> list[dict[str, Any]]:
    """`count` events for count/2 messages: each `sent`, then delivered or (1 %)
    undelivered with 30003, in the order they happened."""
    rng = random.Random(seed)
    scenario = Scenario()
    scenario.add_account(ACCOUNT, TOKEN)
    start = datetime.now(UTC) - timedelta(minutes=30)
    sent, receipts = [], []
    for i in range(count // 2):
        at = start + timedelta(milliseconds=20 * i)
        m = scenario.add_message(
            ACCOUNT,
            sid=make_sid("SM", "events bench", seed, i),
            to=f"+1202555{rng.randrange(10_000):04d}",
            status="sent",
            date_created=at,
        )
        sent.append(status_event(m, at, make_sid("EZ", seed, i, "sent")))
        fails = rng.random() < 0.01
        m.status, m.error_code = ("undelivered", 30003) if fails else ("delivered", None)
        receipts.append(status_event(m, at + timedelta(seconds=5), make_sid("EZ", seed, i, "r")))
    return [e for pair in zip(sent, receipts, strict=True) for e in pair]


async def push_all(
    streams: EventStreams,
    sinks: list[dict[str, Any]],
    events: list[dict[str, Any]],
    size: int,
    concurrent: int,
) -> dict[str, Any]:
    """Every event, `size` to a batch, `concurrent` batches in flight, to the sinks in
    turn; the answers' times and statuses."""
    batches = [events[i : i + size] for i in range(0, len(events), size)]
    queue = list(enumerate(batches))
    seconds: list[float] = []
    refused = 0

    async def worker() -> None:
        nonlocal refused
        while queue:
            n, batch = queue.pop(0)
            delivery = await streams.push(sinks[n % len(sinks)], batch)
            seconds.append(delivery.seconds)
            refused += delivery.status != 200

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrent)))
    elapsed = time.perf_counter() - started
    return {
        "batch": size,
        "concurrent": concurrent,
        "events": len(events),
        "events_per_second": len(events) / elapsed,
        "ack_p50_ms": percentile(seconds, 50) * 1000,
        "ack_p99_ms": percentile(seconds, 99) * 1000,
        "ack_max_ms": max(seconds) * 1000,
        "refused": refused,
    }


async def run_setup(
    twilio: str, processes: int, database_url: str, tmp: Path, total: int, concurrent: int
) -> list[dict[str, Any]]:
    scenario = Scenario()
    scenario.add_account(ACCOUNT, TOKEN)
    streams = EventStreams(scenario)
    results = []
    async with serving(slack_stand_in({})) as slack:
        bots, urls = [], []
        for _ in range(processes):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            env = bot_env(slack, twilio, tmp / "bot.db", port)
            env |= {"SLACK_ALERT_CHANNEL": "C0ALERTS", "PUBLIC_URL": url}
            env |= {"DATABASE_URL": database_url}
            bots.append(subprocess.Popen([sys.executable, "-m", "bot"], env=env))
            urls.append(url)
        try:
            async with aiohttp.ClientSession() as session:
                await up(session, urls)  # every one answers, and one has watched a cycle
            sinks = [streams.add_webhook(ACCOUNT, u + "/twilio/events", STATUS_TYPES) for u in urls]
            seed = 0
            for parallel in (1, concurrent):
                for size in BATCHES:
                    seed += 1
                    count = min(total, size * 400) if parallel == 1 else total
                    result = await push_all(
                        streams, sinks, make_events(count, seed), size, parallel
                    )
                    print(f"  {processes} process(es), {_row(result)}", flush=True)
                    results.append(result)
        finally:
            for bot in bots:
                bot.terminate()
            for bot in bots:
                bot.wait(timeout=30)
            await streams.close()
    return results


def _row(r: dict[str, Any]) -> str:
    return (
        f"batches of {r['batch']}, {r['concurrent']} at once: {r['events_per_second']:.0f} "
        f"events/s · ack p50 {r['ack_p50_ms']:.0f} ms p99 {r['ack_p99_ms']:.0f} ms "
        f"max {r['ack_max_ms']:.0f} ms" + (f" · {r['refused']} refused" if r["refused"] else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--concurrent", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    figures: dict[str, Any] = vars(args).copy()
    rows = []
    with postgres_server() as cluster:
        for label, processes, on_postgres in (
            ("SQLite, 1 process", 1, False),
            ("PostgreSQL, 1 process", 1, True),
            ("PostgreSQL, 2 processes", 2, True),
        ):
            print(f"events: {label} …", flush=True)
            url = cluster.url(cluster.new_database()) if on_postgres else ""
            with (
                TwilioProcess(MESSAGES, 20, args.latency_ms) as twilio,
                tempfile.TemporaryDirectory() as tmp,
            ):
                results = asyncio.run(
                    run_setup(
                        twilio.origin, processes, url, Path(tmp), args.events, args.concurrent
                    )
                )
            figures[label] = results
            rows += [(f"{label}", _row(r)) for r in results]
    report("events", rows, figures)


if __name__ == "__main__":
    main()
