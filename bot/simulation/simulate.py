"""Simulate: the built-in Twilio simulator served on its own, for pointing a real bot at.

`python -m bot simulate` serves a simulated account on 127.0.0.1 with two hours of
history and new traffic every minute, prints the settings that point the bot at it, and
runs until stopped. `--spike` makes about 15 % of the new messages fail with 30003;
`--suspend` suspends the account; `--subaccounts N` gives it N subaccounts, each with
its own traffic (for WATCH_SUBACCOUNTS). Like the demo, nothing here serves production.
"""

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.simulation.demo import HISTORY, PER_MINUTE
from bot.simulation.scenario import Scenario, make_sid
from bot.simulation.serving import serving
from bot.simulation.simulator import Simulator

ACCOUNT = make_sid("AC", "simulated account")
TOKEN = "simulated-auth-token"
SPIKE_RATE = 0.15
STEADY_RATE = 0.01


def traffic(
    scenario: Scenario,
    rng: random.Random,
    start: datetime,
    minutes: int,
    failing: float,
    subaccounts: tuple[str, ...] = (),
) -> None:
    """PER_MINUTE messages in each of `minutes` minutes from `start`, and a quarter as
    many from each subaccount (failing as steady traffic does)."""
    for minute in range(minutes):
        at = start + timedelta(minutes=minute)
        scenario.send_minute(ACCOUNT, rng, at, PER_MINUTE, failing)
        for sid in subaccounts:
            scenario.send_minute(sid, rng, at, PER_MINUTE // 4, STEADY_RATE)


async def run(
    port: int = 0,
    spike: bool = False,
    suspend: bool = False,
    out: Callable[[str], None] = print,
    stop: asyncio.Event | None = None,
    minute_seconds: float = 60.0,
    subaccounts: int = 0,
) -> int:
    """Serve until `stop` is set (or the process is interrupted); a new minute of traffic
    every `minute_seconds`."""
    rng = random.Random(30003)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    scenario = Scenario()
    scenario.add_account(ACCOUNT, TOKEN, status="suspended" if suspend else "active")
    subs = tuple(
        scenario.add_subaccount(ACCOUNT, f"Client {i + 1:02d}").sid for i in range(subaccounts)
    )
    history = int(HISTORY.total_seconds() // 60)
    traffic(scenario, rng, now - HISTORY, history, STEADY_RATE, subs)
    simulator = Simulator(scenario)
    async with serving(simulator.app(), port) as origin:
        simulator.origin = origin
        failed = next(m for m in reversed(scenario.messages) if m.error_code)
        out(f"A simulated Twilio account is served on {origin}. Point the bot at it:")
        out("")
        out(f"  export TWILIO_API_URL={origin}")
        out(f"  export TWILIO_ACCOUNT_SID={ACCOUNT}")
        out(f"  export TWILIO_AUTH_TOKEN={TOKEN}")
        if subs:
            out("  export WATCH_SUBACCOUNTS=all")
        out("")
        out("Then, in another terminal, for example:")
        out(f"  python -m bot why {failed.sid}")
        out(f"  python -m bot lookup {failed.to}")
        out("  python -m bot poll --once     # with the Slack settings too")
        out("")
        state = "suspended" if suspend else "active"
        share = SPIKE_RATE if spike else STEADY_RATE
        theirs = f"; {len(subs)} subaccounts, {PER_MINUTE // 4} a minute each" if subs else ""
        out(
            f"The account is {state}; {PER_MINUTE} messages a minute, {share:.0%} failing "
            f"with 30003{theirs}. Ctrl-C stops it."
        )
        stopped = stop or asyncio.Event()
        while not stopped.is_set():
            try:
                await asyncio.wait_for(stopped.wait(), minute_seconds)
            except TimeoutError:
                traffic(scenario, rng, datetime.now(UTC), 1, share, subs)
    return 0
