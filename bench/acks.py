"""Acks: how fast the bot acks a command while its watcher runs each kind of cycle, on a
store holding a week of a busy account (issue 19's table, measured again).

Builds a store of DAYS x PER_DAY synthetic messages with the week's hours counted (as
bench/detection.py does; --database keeps it for the next run). Each case runs on a copy:
the bot (`python -m bot`, its own process, a cycle every CYCLE_SECONDS) against the
simulated Twilio (its own process, 50 ms a request) holding the last hour at the same
rate and gaining new messages as it goes. A signed `/twilio why SM…` goes out every
INTERVAL_MS until the cycles the case is about have ended; every ack (the HTTP answer
Slack drops after 3 s) is timed.

- idle: not watching;
- steady: the watermark a minute old, so each cycle reads what is new and the settle
  window again; timed from the end of the first cycle;
- first cycle: an empty store and 250 000 messages (a cycle's most) over 6 hours;
- prune after a day down: the last cycle a day ago (the account holding that day), and
  RETENTION_DAYS a day shorter than the store holds, the page cache cold: the first
  cycles read the day back while retention prunes a day;
- empty rollup, page cache cold: the hourly rollup emptied and the file's pages dropped
  from the page cache before the bot starts, so cycles count the week again;
- after 50 why: steady, with 50 `why SM…` sent at once when timing starts.

    python bench/acks.py [--per-day 1000000] [--days 7] [--database PATH] [--interval-ms 50]
"""

import argparse
import asyncio
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from commands import bot_env, command, free_port, percentile, send, slack_stand_in
from detection import build
from harness import ACCOUNT, TOKEN, TwilioProcess, drop_page_cache, report

from bot.simulation.serving import serving

CYCLE_SECONDS = 5
LATENCY_MS = 50
CASES = ("idle", "steady", "first cycle", "prune after a day down", "empty rollup", "after 50 why")
CYCLES = {"idle": 0, "steady": 4, "first cycle": 1, "prune after a day down": 6}
CYCLES |= {"empty rollup": 8, "after 50 why": 3}
IDLE_SECONDS = 15
DAY_DOWN = "prune after a day down"
WHYS = 50


async def prepare(path: Path, case: str, days: int, built: datetime, now: datetime) -> None:
    """The case's store: the watcher's state as a cycle a minute ago left it, and what
    the case changes. After days down or an emptied rollup the page cache is cold too."""
    from bot.store import Coverage
    from bot.store.sqlite import SqliteStore

    store = SqliteStore(str(path))
    try:
        # After a day down the last cycle was a day ago: the first reads the day's messages
        # (250 000 of them, the rest over the next cycles) while retention prunes a day.
        last = now - (timedelta(days=1) if case == DAY_DOWN else timedelta(minutes=1))
        await store.watcher.put("messages_watermark", last.isoformat())
        await store.watcher.set_coverage(
            Coverage(built - timedelta(days=days), last, CYCLE_SECONDS)
        )
    finally:
        store.close()
    if case == "empty rollup":
        db = sqlite3.connect(path)
        db.execute("delete from message_hours")
        db.commit()
        db.close()
    if case in ("empty rollup", DAY_DOWN):
        drop_page_cache(path)


async def run_case(
    origin: str, database: Path, case: str, days: int, per_day: int, interval: float
) -> dict[str, Any]:
    answered: dict[str, float] = {}
    async with (
        serving(slack_stand_in(answered)) as here,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
    ):
        login = {"Authorization": aiohttp.BasicAuth(ACCOUNT, TOKEN).encode()}
        async with session.get(origin + "/bench/sids", params={"count": "500"}, headers=login) as r:
            sids = await r.json()
        port = free_port()
        env = bot_env(here, origin, database, port)  # logging at INFO, as by default
        if case != "idle":
            env |= {"SLACK_ALERT_CHANNEL": "C0ALERTS", "POLL_INTERVAL_SECONDS": str(CYCLE_SECONDS)}
        if case == "prune after a day down":
            env["RETENTION_DAYS"] = str(days - 1)
        log = database.with_suffix(".log").open("w")  # the access log of every command
        bot = subprocess.Popen([sys.executable, "-m", "bot"], env=env, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        acks: list[float] = []
        sent: dict[str, float] = {}
        durations: dict[int, float] = {}  # cycle (counted from the first timed) -> seconds

        async def one(n: int) -> None:
            body = command(f"why {sids[n % len(sids)]}", f"{here}/respond/{n}", f"U{n % 97}")
            acks.append(await send(session, url, body, sent, str(n)))

        async def poller() -> dict[str, Any]:
            async with session.get(url + "/healthz") as r:
                return dict((await r.json()).get("poller", {}))

        async def arriving() -> None:
            # New messages at the account's rate, as the watcher would meet them.
            while True:
                await asyncio.sleep(1)
                count = max(1, per_day // 86_400)
                async with session.post(f"{origin}/bench/add?count={count}", headers=login):
                    pass

        tasks: list[asyncio.Task[None]] = []
        adding = asyncio.create_task(arriving())
        stop = asyncio.Event()

        async def watch(first: int) -> None:
            # Apart from the sending, so a bot that stalls meets every command due meanwhile.
            while True:
                seen = await poller()
                done = seen.get("cycles", 0) - first
                if done > 0 and seen.get("last_duration_seconds") is not None:
                    durations[done] = seen["last_duration_seconds"]
                if done >= CYCLES[case]:
                    stop.set()
                    return
                await asyncio.sleep(0.2)

        started = time.monotonic()
        try:
            await up(session, url)
            if case in ("steady", "after 50 why"):
                while (await poller()).get("cycles", 0) < 1:  # the first reads the window
                    await asyncio.sleep(0.1)
            watching = None
            if case != "idle":
                watching = asyncio.create_task(watch((await poller()).get("cycles", 0)))
            if case == "after 50 why":
                tasks += [asyncio.create_task(one(n)) for n in range(WHYS)]
            n = len(tasks)
            due = time.monotonic()
            while not stop.is_set():
                if case == "idle" and time.monotonic() - started > IDLE_SECONDS:
                    break
                if time.monotonic() - started > 600:
                    log.flush()
                    tail = database.with_suffix(".log").read_text().splitlines()[-20:]
                    problems = "\n".join(line for line in tail if "aiohttp.access" not in line)
                    raise RuntimeError(f"{case}: the cycles did not end in 10 minutes\n{problems}")
                tasks.append(asyncio.create_task(one(n)))
                n += 1
                due += interval  # on a fixed beat, whatever the answers do
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            await asyncio.gather(*tasks)
            if watching is not None:
                await watching
        finally:
            adding.cancel()
            bot.terminate()
            bot.wait(timeout=30)
            log.close()
    return {
        "commands": len(acks),
        "ack_p50_ms": percentile(acks, 50) * 1000,
        "ack_p99_ms": percentile(acks, 99) * 1000,
        "ack_max_ms": max(acks) * 1000,
        "past_1s": sum(a > 1 for a in acks),
        "past_3s": sum(a > 3 for a in acks),
        "cycles": len(durations),
        "longest_cycle_seconds": max(durations.values(), default=None),
    }


async def up(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(1200):
        try:
            async with session.get(url + "/healthz") as r:
                if r.status in (200, 503):
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError("the bot did not start")


def base_store(path: Path, per_day: int, days: int) -> datetime:
    """The week, built once (and its hours counted) or reused from `path`."""
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return datetime.fromisoformat(json.loads(meta.read_text())["now"])
    now = datetime.now(UTC).replace(microsecond=0)
    print(f"acks: building {days} x {per_day:,} messages …", flush=True)
    build(path, per_day, days, now, spread=False)

    async def count() -> None:
        from bot.store.sqlite import SqliteStore

        store = SqliteStore(str(path))
        await store.messages.baseline(30003, now - timedelta(days=7), now, None)
        store.close()

    asyncio.run(count())
    meta.write_text(json.dumps({"now": now.isoformat()}))
    return now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--database", type=Path, help="build the week here once, and reuse it")
    parser.add_argument("--interval-ms", type=float, default=50.0)
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    figures: dict[str, Any] = {"per_day": args.per_day, "days": args.days}
    rows: list[tuple[str, str]] = [("case", "commands   ack p50 / p99 / max   past 1 s / 3 s")]
    with tempfile.TemporaryDirectory() as tmp:
        base = args.database or Path(tmp) / "week.db"
        built = base_store(base, args.per_day, args.days)
        figures["store_built_at"] = built.isoformat()
        for case in args.cases.split(","):
            print(f"acks: {case} …", flush=True)
            copy = Path(tmp) / "case.db"
            for suffix in ("-wal", "-shm"):
                Path(f"{copy}{suffix}").unlink(missing_ok=True)
            if case == "first cycle":
                copy.unlink(missing_ok=True)
                messages, hours = 250_000, 6.0
            else:
                shutil.copyfile(base, copy)
                asyncio.run(prepare(copy, case, args.days, built, datetime.now(UTC)))
                # The account's last hour, or its last day after a day down.
                messages, hours = (
                    (args.per_day, 24.0) if case == DAY_DOWN else (args.per_day // 24, 1.0)
                )
            with TwilioProcess(messages, hours, LATENCY_MS) as twilio:
                f = asyncio.run(
                    run_case(
                        twilio.origin,
                        copy,
                        case,
                        args.days,
                        args.per_day,
                        args.interval_ms / 1000,
                    )
                )
            figures[case] = f
            cycles = f"{f['cycles']} cycles, longest {f['longest_cycle_seconds'] or 0:.1f} s"
            rows.append(
                (
                    case,
                    f"{f['commands']:>6}   {f['ack_p50_ms']:.0f} / {f['ack_p99_ms']:.0f} / "
                    f"{f['ack_max_ms']:.0f} ms   {f['past_1s']} / {f['past_3s']}   ({cycles})",
                )
            )
    report("acks", rows, figures)


if __name__ == "__main__":
    main()
