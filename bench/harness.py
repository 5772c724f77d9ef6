"""Harness: what the benchmarks share. A simulated Twilio account served from its own
process, each contender run in a process of its own (so its peak RSS is its own), and
the table and JSON every script ends with.

Run the benchmarks, not this: `python bench/ingest.py`, `python bench/commands.py`,
`python bench/detection.py`.
"""

import asyncio
import contextlib
import json
import os
import platform
import random
import resource
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.simulation.scenario import Scenario, make_sid
from bot.simulation.serving import serving
from bot.simulation.simulator import Simulator

ACCOUNT = make_sid("AC", "bench account")
TOKEN = "bench-auth-token"
HERE = Path(__file__).resolve().parent
CARRIER_NUMBERS = 5_000  # distinct recipients in the synthetic traffic


def add_traffic(
    scenario: Scenario,
    count: int,
    start: datetime,
    end: datetime,
    rng: random.Random,
    failing_percent: float = 1.0,
) -> None:
    """`count` messages spread evenly over [start, end): mostly delivered, about
    `failing_percent` % undelivered with 30003, and a few failed (no date_sent)."""
    step = (end - start) / max(count, 1)
    for i in range(count):
        created = start + step * i
        roll = rng.random() * 100
        if roll < failing_percent:
            status, code, sent = "undelivered", 30003, created
        elif roll < failing_percent + 0.2:
            status, code, sent = "failed", 30007, None
        else:
            status, code, sent = "delivered", None, created
        scenario.add_message(
            ACCOUNT,
            sid=make_sid("SM", "bench", created.isoformat(), i),
            to=f"+1202555{rng.randrange(CARRIER_NUMBERS):04d}",
            from_="+15005550006" if i % 2 else "+15005550010",
            status=status,
            error_code=code,
            date_created=created,
            date_sent=sent,
        )


def twilio_simulator(messages: int, hours: float, latency_ms: float, seed: int = 7) -> Simulator:
    """The benchmark's account: `messages` spread over the last `hours`, plus the bench
    routes `POST /bench/add?count=N` (new messages, created now), `GET /bench/requests`,
    `GET /bench/sids?count=N` and `GET /bench/count?since=ISO` (messages created since)."""
    rng = random.Random(seed)
    scenario = Scenario()
    scenario.add_account(ACCOUNT, TOKEN)
    now = datetime.now(UTC)
    add_traffic(scenario, messages, now - timedelta(hours=hours), now, rng)
    simulator = Simulator(scenario)
    simulator.latency_seconds = latency_ms / 1000
    return simulator


def serve_twilio_forever(argv: Sequence[str]) -> None:
    """`python bench/harness.py twilio MESSAGES HOURS LATENCY_MS`: prints its origin, then
    serves until stdin closes (the parent ended)."""
    messages, hours, latency_ms = int(argv[0]), float(argv[1]), float(argv[2])
    simulator = twilio_simulator(messages, hours, latency_ms)
    rng = random.Random(8)

    async def add(request: web.Request) -> web.Response:
        count = int(request.query["count"])
        now = datetime.now(UTC)
        add_traffic(simulator.scenario, count, now - timedelta(seconds=1), now, rng)
        return web.json_response({"messages": len(simulator.scenario.messages)})

    async def requests(_: web.Request) -> web.Response:
        return web.json_response({"requests": len(simulator.received)})

    async def count(request: web.Request) -> web.Response:
        since = datetime.fromisoformat(request.query["since"])
        # As Twilio's API gives them: to the whole second.
        held = [
            m for m in simulator.scenario.messages if m.date_created.replace(microsecond=0) >= since
        ]
        return web.json_response({"messages": len(held)})

    async def sids(request: web.Request) -> web.Response:
        count = int(request.query["count"])
        return web.json_response([m.sid for m in simulator.scenario.messages[-count:]])

    async def main() -> None:
        app = simulator.app()
        bench = web.Application()
        bench.router.add_post("/add", add)
        bench.router.add_get("/requests", requests)
        bench.router.add_get("/sids", sids)
        bench.router.add_get("/count", count)
        app.add_subapp("/bench", bench)
        async with serving(app) as origin:
            print(origin, flush=True)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, sys.stdin.read)

    asyncio.run(main())


class TwilioProcess:
    """The simulator in a child process, so its work is not counted against the bot's."""

    def __init__(self, messages: int, hours: float, latency_ms: float) -> None:
        self.args = [str(messages), str(hours), str(latency_ms)]
        self.process: subprocess.Popen[str] | None = None
        self.origin = ""

    def __enter__(self) -> "TwilioProcess":
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "harness.py"), "twilio", *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.origin = self.process.stdout.readline().strip()
        if not self.origin.startswith("http://127.0.0.1:"):
            raise RuntimeError("the simulator did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def bench_watcher(
    origin: str, database: str, posting: bool, tuning: Any = None, **more: str
) -> tuple[Any, Any, Any]:
    """The bot's watcher on the simulated account at `origin`, storing into `database`,
    reading BACKFILL_HOURS=24 on its first cycle: (store, twilio, watcher). With
    `posting`, alerts go to a Slack API that answers 404 (the simulator's origin);
    without, it reads and measures only. `tuning`: the bot's, if not the default; `more`:
    other settings."""
    from bot import settings
    from bot.adapters.slack.poster import Poster, web_client
    from bot.adapters.twilio import TwilioApi
    from bot.answers.curated import curated_directory, load_curated
    from bot.store.sqlite import SqliteStore
    from bot.watcher.config import WatcherConfig
    from bot.watcher.cycle import Watcher

    env = {
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_API_URL": origin,
        "DATABASE_PATH": database,
        "BACKFILL_HOURS": "24",
        **more,
    }
    if posting:
        env |= {"SLACK_API_URL": origin + "/no-slack/", "SLACK_ALERT_CHANNEL": "CBENCH"}
    config = settings.load(env)
    store = SqliteStore(config.database_path)
    twilio = TwilioApi(config)
    watcher = Watcher(
        WatcherConfig.from_settings(config, tuning),
        store,
        twilio,
        Poster(web_client(config)) if posting else None,
        load_curated(curated_directory(), config.policy),
    )
    return store, twilio, watcher


@contextlib.contextmanager
def postgres_server() -> Iterator[Any]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 for the run (the tests' own: initdb as
    nobody when run as root), removed afterwards; its `url(name)` names a database. Run as
    a server is deployed: fsync on, every commit flushed, 512 MB of shared buffers."""
    sys.path.insert(0, str(HERE.parent))
    from tests.postgres import Cluster, server_binaries

    bindir = server_binaries()
    if bindir is None:
        sys.exit("no PostgreSQL server binaries here (pg_config --bindir has no initdb)")
    cluster = Cluster(bindir, "-c max_connections=200 -c shared_buffers=512MB")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.remove()


def run_contender(script: Path, *args: str) -> dict[str, Any]:
    """Run `script contender ARGS…` in a fresh process; it prints one JSON line last."""
    done = subprocess.run(
        [sys.executable, str(script), "contender", *args],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def drop_page_cache(path: Path) -> None:
    """Evict a database's pages from the OS page cache (its WAL too), as after a reboot or
    under memory pressure: what follows reads from the disk. Dirty pages cannot be
    dropped, so they are written first."""
    for name in (path, Path(f"{path}-wal")):
        if name.exists():
            fd = os.open(name, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }


def report(name: str, rows: list[tuple[str, str]], figures: dict[str, Any]) -> None:
    """Print a two-column table and write `bench/<name>.json` with the figures."""
    width = max(len(label) for label, _ in rows)
    print()
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    result: dict[str, Any] = {"benchmark": name, "measured_at": datetime.now(UTC).isoformat()}
    result |= {"machine": machine(), "figures": figures}
    path = HERE / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n  written to {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["twilio"]:
        serve_twilio_forever(sys.argv[2:])
    else:
        sys.exit(__doc__)
