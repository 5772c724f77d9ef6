"""Stall: how fast the bot acks while its database is held up.

The bot runs as in production (`python -m bot`, its own process, watching), against the
simulated Twilio (its own process). Signed `/twilio why SM…` commands go out one every
INTERVAL_MS, each for a known message, and every ack (the HTTP answer Slack waits for,
3 s at most) is timed, as is a `/healthz` asked beside each command. Two cases:

- lock: after the first cycle, this script holds the database's write lock from another
  process (BEGIN IMMEDIATE) for LOCK_SECONDS, as a backup, a migration or a second bot
  would; commands and /healthz go on all the while, and a watcher cycle meets the lock.
- first cycle: the bot starts on an account holding MESSAGES messages over the last day;
  commands go out from the moment /healthz answers until its first cycle (which reads
  them all, stores them and builds the baseline) has ended.

    python bench/stall.py [--messages 100000] [--lock-seconds 10] [--interval-ms 50]
"""

import argparse
import asyncio
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from commands import (
    bot_env,
    command,
    free_port,
    percentile,
    send,
    slack_stand_in,
    wait_until_up,
)
from harness import ACCOUNT, TOKEN, TwilioProcess, report

from bot.simulation.serving import serving

LATENCY_MS = 50


async def run_case(
    origin: str, tmp: Path, case: str, lock_seconds: float, interval: float
) -> dict[str, Any]:
    answered: dict[str, float] = {}
    receiver = slack_stand_in(answered)
    database = tmp / f"bot-{case}.db"
    async with (
        serving(receiver) as here,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
    ):
        login = {"Authorization": aiohttp.BasicAuth(ACCOUNT, TOKEN).encode()}
        async with session.get(origin + "/bench/sids", params={"count": "500"}, headers=login) as r:
            sids = await r.json()
        port = free_port()
        env = {
            **bot_env(here, origin, database, port),
            "SLACK_ALERT_CHANNEL": "C0ALERTS",
            "BACKFILL_HOURS": "24",
            "POLL_INTERVAL_SECONDS": "2",
            "LOG_LEVEL": "ERROR",  # the access log of every request would swamp the table
        }
        bot = subprocess.Popen([sys.executable, "-m", "bot"], env=env)
        url = f"http://127.0.0.1:{port}"
        acks: list[float] = []
        health: list[float] = []
        health_said: dict[str, int] = {}
        sent: dict[str, float] = {}
        n = 0

        async def one(n: int) -> None:
            sid = sids[n % len(sids)]
            body = command(f"why {sid}", f"{here}/respond/{n}", f"U{n}")
            acks.append(await send(session, url, body, sent, str(n)))

        async def healthz() -> None:
            started = time.perf_counter()
            async with session.get(url + "/healthz") as r:
                said = (await r.json()).get("database", "ok")
            health.append(time.perf_counter() - started)
            health_said[said] = health_said.get(said, 0) + 1

        async def cycles() -> int:
            async with session.get(url + "/healthz") as r:
                return int((await r.json()).get("poller", {}).get("cycles", 0))

        tasks: list[asyncio.Task[None]] = []
        try:
            if case == "lock":
                await wait_until_up(session, url, watching=True)
                await send(session, url, command("help", here + "/respond/warm", "U0"), {})
                holder = sqlite3.connect(database, isolation_level=None, timeout=30)
                holder.execute("BEGIN IMMEDIATE")
                until = time.monotonic() + lock_seconds
                try:
                    while time.monotonic() < until:
                        tasks += [asyncio.create_task(one(n)), asyncio.create_task(healthz())]
                        n += 1
                        await asyncio.sleep(interval)
                    await asyncio.gather(*tasks)
                finally:
                    holder.execute("ROLLBACK")
                    holder.close()
            else:
                await wait_until_up(session, url, watching=False)
                while await cycles() < 1:
                    tasks += [asyncio.create_task(one(n)), asyncio.create_task(healthz())]
                    n += 1
                    await asyncio.sleep(interval)
                await asyncio.gather(*tasks)
            deadline = time.monotonic() + 60
            while len(answered) < n and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            bot.terminate()
            bot.wait(timeout=30)
    answers = [answered[k] - sent[k] for k in sent if k in answered]
    return {
        "commands": n,
        "acks": len(acks),
        "ack_p50_ms": percentile(acks, 50) * 1000,
        "ack_p99_ms": percentile(acks, 99) * 1000,
        "ack_max_ms": max(acks) * 1000,
        "healthz_p99_ms": percentile(health, 99) * 1000,
        "healthz_max_ms": max(health) * 1000,
        "healthz_database": health_said,
        "answers": len(answers),
        "answer_p50_ms": percentile(answers, 50) * 1000 if answers else None,
        "answer_max_ms": max(answers) * 1000 if answers else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--lock-seconds", type=float, default=10.0)
    parser.add_argument("--interval-ms", type=float, default=50.0)
    args = parser.parse_args()
    interval = args.interval_ms / 1000
    figures: dict[str, Any] = {
        "messages": args.messages,
        "lock_seconds": args.lock_seconds,
        "interval_ms": args.interval_ms,
        "twilio_latency_ms": LATENCY_MS,
    }
    rows: list[tuple[str, str]] = []
    for case, messages in (("lock", 5_000), ("first_cycle", args.messages)):
        print(f"stall: {case.replace('_', ' ')} …", flush=True)
        with (
            TwilioProcess(messages, 20, LATENCY_MS) as twilio,
            tempfile.TemporaryDirectory() as tmp,
        ):
            f = asyncio.run(run_case(twilio.origin, Path(tmp), case, args.lock_seconds, interval))
        figures[case] = f
        name = case.replace("_", " ")
        rows += [
            (f"{name}: commands sent", f"{f['commands']} ({f['acks']} acked)"),
            (
                f"{name}: ack p50 / p99 / max",
                f"{f['ack_p50_ms']:.0f} / {f['ack_p99_ms']:.0f} / {f['ack_max_ms']:.0f} ms",
            ),
            (
                f"{name}: /healthz p99 / max",
                f"{f['healthz_p99_ms']:.0f} / {f['healthz_max_ms']:.0f} ms "
                f"(database: {f['healthz_database']})",
            ),
            (
                f"{name}: answers, p50 / max",
                f"{f['answers']}, {f['answer_p50_ms'] or 0:.0f} / {f['answer_max_ms'] or 0:.0f} ms",
            ),
        ]
    report("stall", rows, figures)


if __name__ == "__main__":
    main()
