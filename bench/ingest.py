"""Ingest: how fast the watcher reads an account's messages, against a plain loop.

One simulated account (its own process) holds MESSAGES messages over the last 20 hours and
answers every request after LATENCY_MS. Three contenders read all of it, each in a
process of its own:

- `list()`: twilio-python's synchronous client, `client.messages.list()` as the docs show
  it (Twilio's default page of 50);
- `list(page_size=1000)`: the same loop with Twilio's largest page;
- the poller: the bot's first watcher cycle (it backfills BACKFILL_HOURS), which also
  stores every message in SQLite. Then steady state: cycles after 100, 1 000 and 5 000
  new messages, counting the requests each makes.

    python bench/ingest.py [--messages 100000] [--latency-ms 50]
"""

import argparse
import asyncio
import json
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import ACCOUNT, TOKEN, TwilioProcess, peak_rss_mb, report, run_contender

HOURS = 20.0
STEADY_NEW = (100, 1_000, 5_000)


def plain_list(origin: str, page_size: int | None) -> dict[str, Any]:
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    class Rewriting(TwilioHttpClient):  # type: ignore[misc]
        """Sends what would go to api.twilio.com to the simulator; nothing else changed."""

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            url = url.replace("https://api.twilio.com", origin)
            return super().request(method, url, *args, **kwargs)

    client = Client(ACCOUNT, TOKEN, http_client=Rewriting())
    before = requests_served(origin)
    started = time.perf_counter()
    kwargs = {"page_size": page_size} if page_size else {}
    failing = 0
    listed = client.messages.list(**kwargs)
    for message in listed:
        failing += message.error_code is not None
    seconds = time.perf_counter() - started
    return {
        "messages": len(listed),
        "failing": failing,
        "seconds": seconds,
        "requests": requests_served(origin) - before,
        "peak_rss_mb": peak_rss_mb(),
    }


def poller(origin: str) -> dict[str, Any]:
    from bot import settings
    from bot.adapters.slack.poster import Poster, web_client
    from bot.adapters.twilio import TwilioApi
    from bot.answers.curated import curated_directory, load_curated
    from bot.store.sqlite import SqliteStore
    from bot.watcher.config import WatcherConfig
    from bot.watcher.cycle import Watcher

    async def main(database: str) -> dict[str, Any]:
        config = settings.load(
            {
                "SLACK_BOT_TOKEN": "xoxb-bench",
                "SLACK_API_URL": origin + "/no-slack/",
                "SLACK_ALERT_CHANNEL": "CBENCH",
                "TWILIO_ACCOUNT_SID": ACCOUNT,
                "TWILIO_AUTH_TOKEN": TOKEN,
                "TWILIO_API_URL": origin,
                "DATABASE_PATH": database,
                "BACKFILL_HOURS": "24",
            }
        )
        store = SqliteStore(config.database_path)
        twilio = TwilioApi(config)
        watcher = Watcher(
            WatcherConfig.from_settings(config),
            store,
            twilio,
            Poster(web_client(config)),
            load_curated(curated_directory(), config.policy),
        )
        try:
            before = requests_served(origin)
            started = time.perf_counter()
            first = await watcher.cycle()
            seconds = time.perf_counter() - started
            result: dict[str, Any] = {
                "messages": first.ingested,
                "stored": len(await store.messages.recent(datetime.now(UTC) - timedelta(days=2))),
                "seconds": seconds,
                "requests": requests_served(origin) - before,
                "steady": [],
            }
            for new in STEADY_NEW:
                add_messages(origin, new)
                before = requests_served(origin)
                started = time.perf_counter()
                cycle = await watcher.cycle()
                result["steady"].append(
                    {
                        "new": new,
                        "read": cycle.ingested,
                        "requests": requests_served(origin) - before,
                        "seconds": time.perf_counter() - started,
                    }
                )
            result["peak_rss_mb"] = peak_rss_mb()
            return result
        finally:
            await twilio.close()
            store.close()

    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(main(str(Path(tmp) / "bench.db")))


def requests_served(origin: str) -> int:
    """Twilio API requests the simulator has answered (its bench routes not counted)."""
    with urllib.request.urlopen(_authorized(origin + "/bench/requests")) as answer:
        served = int(json.load(answer)["requests"])
    return served - _bench_calls(origin)


_BENCH_CALLS: dict[str, int] = {}


def _bench_calls(origin: str) -> int:
    # The simulator counts every request, this script's own bench calls included.
    _BENCH_CALLS[origin] = _BENCH_CALLS.get(origin, 0) + 1
    return _BENCH_CALLS[origin]


def add_messages(origin: str, count: int) -> None:
    request = _authorized(f"{origin}/bench/add?count={count}", method="POST")
    with urllib.request.urlopen(request) as answer:
        answer.read()
    _bench_calls(origin)


def _authorized(url: str, method: str = "GET") -> urllib.request.Request:
    import base64

    request = urllib.request.Request(url, method=method)
    token = base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    return request


def contender(argv: list[str]) -> None:
    name, origin = argv
    if name == "poller":
        result = poller(origin)
    else:
        result = plain_list(origin, None if name == "list" else int(name))
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    print(f"ingest: {args.messages} messages, {args.latency_ms:g} ms per request")
    results = {}
    for name in ("poller", "1000", "list"):
        # A fresh simulator for each, so each reads the same history.
        with TwilioProcess(args.messages, HOURS, args.latency_ms) as twilio:
            print(f"  running {name} …", flush=True)
            results[name] = run_contender(Path(__file__), name, twilio.origin)
    ours, tuned, plain = results["poller"], results["1000"], results["list"]
    rate = {name: r["messages"] / r["seconds"] for name, r in results.items()}
    rows = [
        ("contender", "messages   seconds   msg/s   requests   peak RSS"),
        *(
            (label, _row(results[name], rate[name]))
            for label, name in (
                ("list()", "list"),
                ("list(page_size=1000)", "1000"),
                ("poller, first cycle", "poller"),
            )
        ),
        ("poller vs list()", f"{rate['poller'] / rate['list']:.1f}x"),
        ("poller vs list(page_size=1000)", f"{rate['poller'] / rate['1000']:.1f}x"),
    ]
    for steady in ours["steady"]:
        rows.append(
            (
                f"steady cycle, {steady['new']} new",
                f"{steady['read']} read, {steady['requests']} requests, {steady['seconds']:.2f} s",
            )
        )
    report(
        "ingest",
        rows,
        {
            "messages": args.messages,
            "latency_ms": args.latency_ms,
            "contenders": {"list": plain, "list_page_size_1000": tuned, "poller": ours},
            "ratio_vs_list": rate["poller"] / rate["list"],
            "ratio_vs_list_page_size_1000": rate["poller"] / rate["1000"],
        },
    )


def _row(result: dict[str, Any], rate: float) -> str:
    return (
        f"{result['messages']:>8}  {result['seconds']:>8.2f}  {rate:>6.0f}  "
        f"{result['requests']:>9}  {result['peak_rss_mb']:>6.0f} MB"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["contender"]:
        contender(sys.argv[2:])
    else:
        main()
