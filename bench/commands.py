"""Commands: a burst of `/twilio why SM…` through the real HTTP app.

The bot runs as it does in production (`python -m bot`, its own process), against the
simulated Twilio (its own process, LATENCY_MS a request). This script sends CONCURRENT
signed slash commands at once, each for a different message, and times for each:

- the ack: until Slack's HTTP request is answered (Slack allows 3 s);
- the answer: until the report reaches the command's response_url, served here, which
  also stands in for the Slack Web API's auth.test.

    python bench/commands.py [--concurrent 200] [--latency-ms 100]
"""

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from harness import ACCOUNT, TOKEN, TwilioProcess, report
from slack_sdk.signature import SignatureVerifier

from bot.simulation.serving import serving

SECRET = "bench-signing-secret"
MESSAGES = 5_000


def command(text: str, response_url: str, user: str) -> str:
    return urlencode(
        {
            "team_id": "T0001",
            "channel_id": "C0001",
            "user_id": user,
            "command": "/twilio",
            "text": text,
            "response_url": response_url,
            "trigger_id": "1.2.3",
            "api_app_id": "A0001",
        }
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def burst(origin: str, concurrent: int, tmp: Path, watching: bool) -> dict[str, Any]:
    answered: dict[str, float] = {}
    ok_answers = 0

    def reported(body: dict[str, Any]) -> None:
        nonlocal ok_answers
        # A message report's fallback text is its heading; a notice ("No message …") is not.
        ok_answers += str(body.get("text", "")).startswith("Message SM")

    receiver = slack_stand_in(answered, reported)
    async with (
        serving(receiver) as here,
        # No pool limit: aiohttp's default of 100 would queue half the burst in this client.
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
    ):
        async with session.get(
            origin + "/bench/sids",
            params={"count": str(concurrent)},
            auth=aiohttp.BasicAuth(ACCOUNT, TOKEN),
        ) as r:
            sids = await r.json()
        port = free_port()
        env = bot_env(here, origin, tmp / f"bot-{watching}.db", port)
        if watching:
            env["SLACK_ALERT_CHANNEL"] = "C0ALERTS"
        bot = subprocess.Popen([sys.executable, "-m", "bot"], env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            await wait_until_up(session, url, watching)
            # One command first, so Bolt's one-time auth.test is not in the figures.
            await send(session, url, command("help", here + "/respond/warm", "U0"), {})
            await wait_for(lambda: "warm" in answered)
            sent: dict[str, float] = {}
            cpu_before = cpu_seconds(bot.pid)
            acks = await asyncio.gather(
                *(
                    send(
                        session,
                        url,
                        command(f"why {sid}", f"{here}/respond/{n}", f"U{n}"),
                        sent,
                        str(n),
                    )
                    for n, sid in enumerate(sids)
                )
            )
            await wait_for(lambda: len(answered) >= concurrent + 1, timeout=60)
            cpu = cpu_seconds(bot.pid) - cpu_before
        finally:
            bot.terminate()
            bot.wait(timeout=30)
    answers = [answered[n] - sent[n] for n in sent if n in answered]
    return {"acks": acks, "answers": answers, "ok_answers": ok_answers, "cpu": cpu}


def slack_stand_in(
    answered: dict[str, float], on_answer: Callable[[dict[str, Any]], None] | None = None
) -> web.Application:
    """Slack as the bot meets it here: /respond/{n}, a command's response_url, notes when
    answer `n` came (and hands its body to `on_answer`); /api/{method} takes every Web
    API call (auth.test for Bolt, chat.* for the watcher's alerts)."""

    async def respond(request: web.Request) -> web.Response:
        body = await request.json()
        answered[request.match_info["n"]] = time.perf_counter()
        if on_answer is not None:
            on_answer(body)
        return web.Response(text="ok")

    async def slack_api(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "ok": True,
                "user_id": "UBOT",
                "team_id": "T0001",
                "bot_id": "B1",
                "channel": "C0ALERTS",
                "ts": f"{time.time():.6f}",
            }
        )

    receiver = web.Application()
    receiver.router.add_post("/respond/{n}", respond)
    receiver.router.add_route("*", "/api/{method}", slack_api)
    return receiver


def bot_env(slack: str, twilio: str, database: Path, port: int) -> dict[str, str]:
    """The environment of `python -m bot` against the stand-in Slack at `slack` and the
    simulated Twilio at `twilio`: none of the caller's SLACK_* or TWILIO_* settings."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))},
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack + "/api/",
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_API_URL": twilio,
        "DATABASE_PATH": str(database),
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far, to the nanosecond: the process's CPU-time
    clock, as glibc's clock_getcpuclockid names it on Linux (the pid, bit-inverted and
    shifted, with CPUCLOCK_SCHED). /proc's utime and stime count 10 ms ticks."""
    return time.clock_gettime(((~pid) << 3) | 2)


async def wait_until_up(session: aiohttp.ClientSession, url: str, watching: bool) -> None:
    """Until /healthz answers and, when watching, the first cycle has read the account."""
    for _ in range(600):
        try:
            async with session.get(url + "/healthz") as r:
                body = await r.json()
                if r.status == 200 and (not watching or body["poller"]["cycles"] >= 1):
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the bot did not come up within 60 s")


async def send(
    session: aiohttp.ClientSession, url: str, body: str, sent: dict[str, float], n: str = ""
) -> float:
    ts = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
    assert signature is not None  # None only without a timestamp
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }
    started = time.perf_counter()
    sent[n] = started
    async with session.post(url + "/slack/events", data=body, headers=headers) as r:
        await r.read()
        if r.status != 200:
            raise RuntimeError(f"the bot answered HTTP {r.status}")
    return time.perf_counter() - started


async def wait_for(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the bot did not answer in time")
        await asyncio.sleep(0.01)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()
    print(f"commands: {args.concurrent} at once, Twilio answering in {args.latency_ms:g} ms")
    figures: dict[str, Any] = {"concurrent": args.concurrent, "latency_ms": args.latency_ms}
    rows = []
    for watching in (False, True):
        with (
            TwilioProcess(MESSAGES, 20, args.latency_ms) as twilio,
            tempfile.TemporaryDirectory() as tmp,
        ):
            result = asyncio.run(burst(twilio.origin, args.concurrent, Path(tmp), watching))
        mode = "watching" if watching else "not_watching"
        figures[mode] = burst_figures(result, args.latency_ms / 1000)
        rows += burst_rows(mode.replace("_", " "), figures[mode], args.concurrent)
    report("commands", rows, figures)


def burst_figures(result: dict[str, Any], latency: float) -> dict[str, Any]:
    acks, answers = result["acks"], result["answers"]
    return {
        "acks": len(acks),
        "ack_p50_ms": percentile(acks, 50) * 1000,
        "ack_p99_ms": percentile(acks, 99) * 1000,
        "answer_p50_ms": percentile(answers, 50) * 1000,
        "answer_p99_ms": percentile(answers, 99) * 1000,
        "answer_p50_x_latency": percentile(answers, 50) / latency,
        "answer_p99_x_latency": percentile(answers, 99) / latency,
        "answer_min_ms": min(answers) * 1000,
        "answers": len(answers),
        "reports": result["ok_answers"],
        "bot_cpu_ms_per_command": result["cpu"] / len(acks) * 1000,
    }


def burst_rows(mode: str, f: dict[str, Any], concurrent: int) -> list[tuple[str, str]]:
    return [
        (f"{mode}: requests acked", f"{f['acks']} of {concurrent}"),
        (f"{mode}: ack p50 / p99", f"{f['ack_p50_ms']:.0f} / {f['ack_p99_ms']:.0f} ms"),
        (f"{mode}: answers (message reports)", f"{f['answers']} ({f['reports']})"),
        (f"{mode}: answer fastest", f"{f['answer_min_ms']:.0f} ms"),
        (
            f"{mode}: answer p50 / p99",
            f"{f['answer_p50_ms']:.0f} / {f['answer_p99_ms']:.0f} ms "
            f"({f['answer_p50_x_latency']:.1f}x / {f['answer_p99_x_latency']:.1f}x latency)",
        ),
        (f"{mode}: bot CPU a command", f"{f['bot_cpu_ms_per_command']:.1f} ms"),
    ]


if __name__ == "__main__":
    main()
