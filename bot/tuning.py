"""Tuning: the numbers a test or a benchmark may change, never a setting. One value,
handed down by whoever builds the parts (`app.build`, the CLI, the test helpers), so no
test has to patch a module's constant."""

from dataclasses import dataclass, field

from bot.domain.segments import Budget
from bot.domain.subaccounts import QUIET_MOST, QUIET_ROUNDS
from bot.watcher.health import FIRST_CYCLE_GRACE_SECONDS


@dataclass(frozen=True)
class Tuning:
    # The watcher's reads and writes.
    page_size: int = 1000  # messages a page, Twilio's largest
    max_pages: int = 250  # a cycle's walk: 250 000 messages, newest first
    # When there was more (a busy account's first day, a long gap), the cycles after it
    # read on from where it stopped, this many pages a cycle, until they reach the start.
    backfill_pages: int = 100
    save_batch: int = 10_000  # messages written to the store in one transaction
    first_cycle_grace_seconds: float = FIRST_CYCLE_GRACE_SECONDS
    # Retention deletes this many messages a transaction, so other writes wait for no
    # more than one batch; a cycle prunes batches for at most this long, and the next
    # cycle goes on where it stopped.
    prune_batch: int = 10_000
    prune_seconds_per_cycle: float = 2.0
    # How long a cycle counts hours of history into the rollup for the first time: a
    # week at a million messages a day takes seconds, so it goes over several cycles.
    baseline_seconds_per_cycle: float = 0.5
    # A batch of failures from Event Streams wakes the watcher for a cycle before its
    # beat, but no sooner than this after the last cycle began, nor than this share of
    # the interval.
    nudge_gap_seconds: float = 5.0
    early_share: float = 0.5
    # Twilio: the wait before the first retry, doubled for each one after.
    twilio_backoff_seconds: float = 0.5
    # Slack: how long a Web API call or an answer may take, and the waits before the
    # second and third tries of an answer that response_url refused with a 5xx.
    slack_timeout_seconds: int = 10  # slack_sdk takes whole seconds
    answer_retry_seconds: tuple[float, ...] = (1.0, 3.0)
    # Detection per segment: the chance per evaluation of any false alarm among all the
    # segments, and how much the account's rate weighs in a segment's short history
    # (bench/segments.py measures what they give).
    segment_budget: Budget = field(
        default_factory=lambda: Budget(alpha=1e-4, prior_messages=200, short_minutes=5)
    )
    # Subaccounts without recent traffic: this share of them is read a cycle (1/N), and
    # no more than this many (bench/subaccounts.py weighs it against reading them all).
    quiet_rounds: int = QUIET_ROUNDS
    quiet_most: int = QUIET_MOST


DEFAULT_TUNING = Tuning()
