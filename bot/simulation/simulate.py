"""Simulate: the built-in Twilio simulator served on its own, for pointing a real bot at.

`python -m bot simulate` serves a simulated account on 127.0.0.1 with two hours of
history and new traffic every minute, prints the settings that point the bot at it, and
runs until stopped. `--spike` makes about 15 % of the new messages fail with 30003;
`--suspend` suspends the account. Like the demo, nothing here serves production.
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
    scenario: Scenario, rng: random.Random, start: datetime, minutes: int, failing: float
) -> None:
    """PER_MINUTE messages in each of `minutes` minutes from `start`."""
    for minute in range(minutes):
        scenario.send_minute(ACCOUNT, rng, start + timedelta(minutes=minute), PER_MINUTE, failing)


async def run(
    port: int = 0,
    spike: bool = False,
    suspend: bool = False,
    out: Callable[[str], None] = print,
    stop: asyncio.Event | None = None,
    minute_seconds: float = 60.0,
) -> int:
    """Serve until `stop` is set (or the process is interrupted); a new minute of traffic
    every `minute_seconds`."""
    rng = random.Random(30003)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    scenario = Scenario()
    scenario.add_account(ACCOUNT, TOKEN, status="suspended" if suspend else "active")
    history = int(HISTORY.total_seconds() // 60)
    traffic(scenario, rng, now - HISTORY, history, STEADY_RATE)
    simulator = Simulator(scenario)
    async with serving(simulator.app(), port) as origin:
        simulator.origin = origin
        failed = next(m for m in reversed(scenario.messages) if m.error_code)
        out(f"A simulated Twilio account is served on {origin}. Point the bot at it:")
        out("")
        out(f"  export TWILIO_API_URL={origin}")
        out(f"  export TWILIO_ACCOUNT_SID={ACCOUNT}")
        out(f"  export TWILIO_AUTH_TOKEN={TOKEN}")
        out("")
        out("Then, in another terminal, for example:")
        out(f"  python -m bot why {failed.sid}")
        out(f"  python -m bot lookup {failed.to}")
        out("  python -m bot poll --once     # with the Slack settings too")
        out("")
        state = "suspended" if suspend else "active"
        share = SPIKE_RATE if spike else STEADY_RATE
        out(
            f"The account is {state}; {PER_MINUTE} messages a minute, {share:.0%} failing "
            "with 30003. Ctrl-C stops it."
        )
        stopped = stop or asyncio.Event()
        while not stopped.is_set():
            try:
                await asyncio.wait_for(stopped.wait(), minute_seconds)
            except TimeoutError:
                traffic(scenario, rng, datetime.now(UTC), 1, share)
    return 0
