"""Policy: the team's own numbers for retries, systemic rates and numbers to stop sending to.

They come from practice (seed 001), not from Twilio, so every answer that uses one says
so, and each is a setting (`settings.SETTINGS` holds the defaults). Pure: values in, text
out. Knowledge files name them as `{placeholders}`, filled here.
"""

import string
from dataclasses import dataclass

STREAK_CODE = 30003  # the code whose runs to one number the policy counts


@dataclass(frozen=True)
class Policy:
    retry_wait_minutes: int  # wait at least this long before sending a 30003 again
    retry_max: int  # and try at most this many times
    systemic_percent: float  # above this share of sends, an error is systemic
    escalate_percent: float  # above this, once handsets are ruled out, go to Twilio
    streak_limit: int  # this many 30003s in a row to one number is the most to tolerate
    streak_days: int  # ... counted within this many days

    def values(self) -> dict[str, str]:
        """Each placeholder a knowledge file may use, as it reads in a sentence."""
        return {
            "retry_wait_minutes": str(self.retry_wait_minutes),
            "retry_max": str(self.retry_max),
            "systemic_percent": f"{self.systemic_percent:g}%",
            "escalate_percent": f"{self.escalate_percent:g}%",
            "streak_limit": str(self.streak_limit),
            "streak_days": str(self.streak_days),
        }


PLACEHOLDERS = frozenset(
    Policy(0, 0, 0.0, 0.0, 0, 0).values()  # the names only; the numbers are settings'
)
LABEL = "Team policy (this bot's settings, from common practice; not Twilio's rules)"


def placeholders(template: str) -> set[str]:
    """The `{names}` a text uses; ValueError for a brace that is not a placeholder."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def fill(template: str, policy: Policy) -> str:
    return template.format(**policy.values())


def streak_advice(streak: int, policy: Policy) -> str:
    """What the policy says of a number whose last `streak` messages failed with 30003,
    or "" while the run is short. Twilio does not call such a number dead: the run only
    makes it likely, so the advice is to stop and check, as the team's rule."""
    limit, days = policy.streak_limit, policy.streak_days
    if streak > limit:
        return (
            f"{streak} messages in a row to this number failed with {STREAK_CODE} within "
            f"{days} days. Team policy (more than {limit} in a row): stop sending to it until "
            "it is confirmed, for example with Lookup or through another channel. Twilio does "
            "not say the number is out of service; a long run only makes that likely."
        )
    if streak == limit and limit > 0:
        return (
            f"{streak} messages in a row to this number failed with {STREAK_CODE} within "
            f"{days} days. By team policy, one more and it comes off the sending list until "
            "it is confirmed."
        )
    return ""


def retry_advice(policy: Policy) -> str:
    return (
        f"Team policy: retry no sooner than {policy.retry_wait_minutes} minutes after the "
        f"failure, and at most {policy.retry_max} times."
    )
