"""Replicas: signed `/twilio why SM…` per second with 1, 2 and 4 bot processes sharing one
PostgreSQL database, against one process on its SQLite file.

Every process runs as in production (`python -m bot`, watching: one holds the lease, the
others stand by), against the simulated Twilio (its own process, LATENCY_MS a request)
and a Slack stand-in served here. CLIENTS clients each send a command, wait for its
answer at the response_url, and send the next, for SECONDS, spread over the processes in
turn as a platform's router does. Reports answers a second, and the ack and answer
latency (p50, p99) in each setup.

    python bench/replicas.py [--clients 16] [--seconds 20] [--latency-ms 50]
"""

import argparse
import asyncio
import itertools
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
    wait_for,
)
from harness import ACCOUNT, TOKEN, TwilioProcess, postgres_server, report

from bot.simulation.serving import serving

MESSAGES = 20_000  # the account's last 20 hours


async def up(session: aiohttp.ClientSession, urls: list[str]) -> None:
    """Until every process answers /healthz and one has finished a watcher cycle."""
    for _ in range(900):
        cycles, answering = 0, 0
        for url in urls:
            try:
                async with session.get(url + "/healthz") as r:
                    body = await r.json()
                    answering += 1
                    cycles += int(body.get("poller", {}).get("cycles", 0))
            except aiohttp.ClientError:
                pass
        if answering == len(urls) and cycles >= 1:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the bots did not come up within 90 s")


async def load(
    twilio: str, processes: int, database_url: str, tmp: Path, clients: int, seconds: float
) -> dict[str, Any]:
    answered: dict[str, float] = {}
    acks: list[float] = []
    answers: list[float] = []
    receiver = slack_stand_in(answered)
    async with (
        serving(receiver) as here,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
    ):
        async with session.get(
            twilio + "/bench/sids", params={"count": "2000"}, auth=aiohttp.BasicAuth(ACCOUNT, TOKEN)
        ) as r:
            sids = await r.json()
        bots, urls = [], []
        for _ in range(processes):
            port = free_port()
            env = bot_env(here, twilio, tmp / "bot.db", port)
            env |= {"SLACK_ALERT_CHANNEL": "C0ALERTS", "DATABASE_URL": database_url}
            bots.append(subprocess.Popen([sys.executable, "-m", "bot"], env=env))
            urls.append(f"http://127.0.0.1:{port}")
        try:
            await up(session, urls)
            for i, url in enumerate(urls):  # Bolt's one-time auth.test, out of the figures
                await send(session, url, command("help", f"{here}/respond/warm{i}", "U0"), {})
            await wait_for(lambda: sum(k.startswith("warm") for k in answered) == len(urls))
            numbers = itertools.count()
            routes = itertools.cycle(urls)
            deadline = time.perf_counter() + seconds

            async def client(c: int) -> None:
                while time.perf_counter() < deadline:
                    n = str(next(numbers))
                    sid = sids[int(n) % len(sids)]
                    sent: dict[str, float] = {}
                    body = command(f"why {sid}", f"{here}/respond/{n}", f"U{c}")
                    acks.append(await send(session, next(routes), body, sent, n))
                    await wait_for(lambda n=n: n in answered, timeout=60)
                    answers.append(answered[n] - sent[n])

            started = time.perf_counter()
            await asyncio.gather(*(client(c) for c in range(clients)))
            elapsed = time.perf_counter() - started
        finally:
            for bot in bots:
                bot.terminate()
            for bot in bots:
                bot.wait(timeout=30)
    return {
        "answered": len(answers),
        "per_second": len(answers) / elapsed,
        "ack_p50_ms": percentile(acks, 50) * 1000,
        "ack_p99_ms": percentile(acks, 99) * 1000,
        "answer_p50_ms": percentile(answers, 50) * 1000,
        "answer_p99_ms": percentile(answers, 99) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    figures: dict[str, Any] = vars(args).copy()
    setups = [("SQLite, 1 process", 1, False)] + [
        (f"PostgreSQL, {n} process{'es' if n > 1 else ''}", n, True) for n in (1, 2, 4)
    ]
    rows = []
    with postgres_server() as cluster:
        for label, processes, on_postgres in setups:
            print(f"replicas: {label} …", flush=True)
            url = cluster.url(cluster.new_database()) if on_postgres else ""
            with (
                TwilioProcess(MESSAGES, 20, args.latency_ms) as twilio,
                tempfile.TemporaryDirectory() as tmp,
            ):
                result = asyncio.run(
                    load(twilio.origin, processes, url, Path(tmp), args.clients, args.seconds)
                )
            figures[label] = result
            rows.append(
                (
                    label,
                    f"{result['per_second']:.1f} answers/s · ack p50 {result['ack_p50_ms']:.0f} ms"
                    f" p99 {result['ack_p99_ms']:.0f} ms · answer p50 "
                    f"{result['answer_p50_ms']:.0f} ms p99 {result['answer_p99_ms']:.0f} ms",
                )
            )
    report("replicas", rows, figures)


if __name__ == "__main__":
    main()
