"""Ingest: how fast the watcher reads an account's messages, against a floor and a fair
contender.

One simulated account (its own process) holds MESSAGES messages over the last 20 hours and
answers every request after LATENCY_MS. Each contender reads all of it, in a process of
its own:

- the floor: the same pages of 1 000 walked with aiohttp and decoded, nothing more;
- `list(page_size=1000)`, then stored: twilio-python's synchronous client with Twilio's
  largest page, then every message upserted into the bot's own table with the bot's
  prepared statement, 10 000 a transaction, WAL: the plain loop that does what the
  poller does;
- `list(page_size=1000)` and `list()` (Twilio's default page of 50) without storing, for
  reference: the second mostly measures the page size;
- the poller: the bot's first watcher cycle (it backfills BACKFILL_HOURS), which stores
  every message in SQLite. Then steady state: cycles after 100, 1 000 and 5 000 new
  messages, with the messages each read (the new ones and the settle window again) and
  the requests each made.

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

import aiohttp
from harness import (
    ACCOUNT,
    TOKEN,
    TwilioProcess,
    bench_watcher,
    peak_rss_mb,
    report,
    run_contender,
)

HOURS = 20.0
STEADY_NEW = (100, 1_000, 5_000)


def plain_list(origin: str, page_size: int | None, store: str | None = None) -> dict[str, Any]:
    """twilio-python's synchronous `client.messages.list()`; with `store`, every message
    then upserted into a SQLite file there, as a plain loop that keeps them would, but
    with the bot's own prepared statement."""
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
    if store is not None:
        import sqlite3

        from bot.store.sqlite import SqliteStore

        # The bot's own table and indexes, journal and durability, and a prepared upsert
        # 10 000 rows to a transaction, as the bot writes: what differs is the loop (list
        # everything, then store it) and twilio-python's objects.
        SqliteStore(store).close()
        db = sqlite3.connect(store)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        columns: tuple[str, ...] = ("sid", "status", "to", "from_", "direction")
        columns += ("error_code", "messaging_service_sid", "num_segments", "price")
        columns += ("date_created", "date_sent", "date_updated")
        upsert = (
            f"insert into messages ({', '.join(f'[{c}]' for c in columns)}) "
            f"values ({', '.join('?' * len(columns))}) on conflict(sid) do update set "
            + ", ".join(f"[{c}] = excluded.[{c}]" for c in columns[1:])
        )
        rows = [
            (
                m.sid,
                m.status,
                m.to,
                m.from_,
                m.direction,
                m.error_code,
                m.messaging_service_sid,
                m.num_segments,
                m.price,
                *(
                    d.isoformat() if d else None
                    for d in (m.date_created, m.date_sent, m.date_updated)
                ),
            )
            for m in listed
        ]
        for i in range(0, len(rows), 10_000):
            with db:
                db.executemany(upsert, rows[i : i + 10_000])
        db.close()
    seconds = time.perf_counter() - started
    return {
        "messages": len(listed),
        "failing": failing,
        "seconds": seconds,
        "requests": requests_served(origin) - before,
        "peak_rss_mb": peak_rss_mb(),
    }


def page_walk(origin: str) -> dict[str, Any]:
    """The floor: the same pages of 1 000 walked with aiohttp, one in flight, each JSON
    decoded and nothing more: what any reader of this API pays before its own work."""

    async def walk() -> tuple[int, int]:
        auth = aiohttp.BasicAuth(ACCOUNT, TOKEN)
        url: str | None = f"{origin}/2010-04-01/Accounts/{ACCOUNT}/Messages.json?PageSize=1000"
        messages = failing = 0
        async with aiohttp.ClientSession(auth=auth) as session:
            while url is not None:
                async with session.get(url) as r:
                    page = await r.json()
                messages += len(page["messages"])
                failing += sum(m["error_code"] is not None for m in page["messages"])
                nxt = page.get("next_page_uri")
                url = origin + nxt if nxt else None
        return messages, failing

    before = requests_served(origin)
    started = time.perf_counter()
    messages, failing = asyncio.run(walk())
    return {
        "messages": messages,
        "failing": failing,
        "seconds": time.perf_counter() - started,
        "requests": requests_served(origin) - before,
        "peak_rss_mb": peak_rss_mb(),
    }


def poller(origin: str) -> dict[str, Any]:
    async def main(database: str) -> dict[str, Any]:
        store, twilio, watcher = bench_watcher(origin, database, posting=True)
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
    with urllib.request.urlopen(authorized(origin + "/bench/requests")) as answer:
        served = int(json.load(answer)["requests"])
    return served - _bench_calls(origin)


_BENCH_CALLS: dict[str, int] = {}


def _bench_calls(origin: str) -> int:
    # The simulator counts every request, this script's own bench calls included.
    _BENCH_CALLS[origin] = _BENCH_CALLS.get(origin, 0) + 1
    return _BENCH_CALLS[origin]


def add_messages(origin: str, count: int) -> None:
    request = authorized(f"{origin}/bench/add?count={count}", method="POST")
    with urllib.request.urlopen(request) as answer:
        answer.read()
    _bench_calls(origin)


def authorized(url: str, method: str = "GET") -> urllib.request.Request:
    import base64

    request = urllib.request.Request(url, method=method)
    token = base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    return request


def contender(argv: list[str]) -> None:
    name, origin = argv
    if name == "poller":
        result = poller(origin)
    elif name == "floor":
        result = page_walk(origin)
    elif name == "stored":
        with tempfile.TemporaryDirectory() as tmp:
            result = plain_list(origin, 1000, str(Path(tmp) / "plain.db"))
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
    for name in ("floor", "poller", "stored", "1000", "list"):
        # A fresh simulator for each, so each reads the same history.
        with TwilioProcess(args.messages, HOURS, args.latency_ms) as twilio:
            print(f"  running {name} …", flush=True)
            results[name] = run_contender(Path(__file__), name, twilio.origin)
    ours, floor, fair = results["poller"], results["floor"], results["stored"]
    rate = {name: r["messages"] / r["seconds"] for name, r in results.items()}
    rows = [
        ("contender", "messages   seconds   msg/s   requests   peak RSS"),
        *(
            (label, _row(results[name], rate[name]))
            for label, name in (
                ("floor: the pages, walked and decoded", "floor"),
                ("list(page_size=1000), then stored", "stored"),
                ("list(page_size=1000)", "1000"),
                ("list(), pages of 50", "list"),
                ("poller, first cycle (stores all)", "poller"),
            )
        ),
        ("poller's time over the floor's", f"{ours['seconds'] / floor['seconds']:.2f}x"),
        ("poller vs list(page_size=1000), stored", f"{rate['poller'] / rate['stored']:.1f}x"),
    ]
    for steady in ours["steady"]:
        rows.append(
            (
                f"steady cycle, {steady['new']} new",
                f"{steady['read']} read (the new and the settle window), "
                f"{steady['requests']} requests, {steady['seconds']:.2f} s",
            )
        )
    report(
        "ingest",
        rows,
        {
            "messages": args.messages,
            "latency_ms": args.latency_ms,
            "contenders": {
                "floor": floor,
                "list_page_size_1000_stored": fair,
                "list_page_size_1000": results["1000"],
                "list": results["list"],
                "poller": ours,
            },
            "time_over_floor": ours["seconds"] / floor["seconds"],
            "ratio_vs_stored": rate["poller"] / rate["stored"],
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
