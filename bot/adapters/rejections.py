"""Rejections: the one short line a refused request (a forged Slack request, an unsigned
StatusCallback) leaves in the log, and how often."""

import logging
import time
from collections.abc import Callable

from bot.domain.privacy import escape_controls


class RejectionLog:
    """One short line per refused request (why, how big, from where; never its body), at
    most one every `every_seconds`, with how many were refused in between: a flood of
    forged requests must not flood the log, nor slow what is genuine."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        every_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger, self.what, self.every, self.clock = logger, what, every_seconds, clock
        self.last: float | None = None
        self.unsaid = 0

    def refused(self, reason: str, size: int, source: str | None) -> None:
        now = self.clock()
        if self.last is not None and now - self.last < self.every:
            self.unsaid += 1
            return
        more = f" (and {self.unsaid} more since the last line)" if self.unsaid else ""
        self.logger.warning(
            "%s refused: %s; %d bytes from %s%s",
            self.what,
            escape_controls(reason),
            size,
            escape_controls(source or "unknown"),
            more,
        )
        self.last, self.unsaid = now, 0
