"""Listing: the simulator's index of its messages, newest first per account and by SID.

A benchmark lists an account of a million messages page by page while adding new ones
every second: the index takes new messages at its head rather than sorting all again,
so the simulator is not what the benchmark measures.
"""

from datetime import datetime

from bot.simulation.scenario import SimMessage


def _key(m: SimMessage) -> tuple[datetime, str]:
    return (m.date_created, m.sid)


class Listing:
    def __init__(self) -> None:
        self.newest_first: dict[str, list[SimMessage]] = {}  # account SID -> its messages
        self.by_sid: dict[str, SimMessage] = {}
        self.by_to: dict[tuple[str, str], list[SimMessage]] = {}  # (account, to) -> newest first
        self._size = -1

    def update(self, messages: list[SimMessage]) -> "Listing":
        """Index what was added to `messages` since the last call (scenarios only ever
        append); returns itself."""
        if self._size == len(messages):
            return self
        added = messages[max(self._size, 0) :]
        heads = {sid: _key(found[0]) for sid, found in self.newest_first.items() if found}
        if self._size > 0 and all(
            m.account_sid not in heads or _key(m) > heads[m.account_sid] for m in added
        ):
            # Newer than any before, as time runs: at the head, in one move per account.
            newest = sorted(added, key=_key, reverse=True)
            by_account: dict[str, list[SimMessage]] = {}
            by_to: dict[tuple[str, str], list[SimMessage]] = {}
            for m in newest:
                by_account.setdefault(m.account_sid, []).append(m)
                by_to.setdefault((m.account_sid, m.to), []).append(m)
            for account, found in by_account.items():
                self.newest_first.setdefault(account, [])[:0] = found
            for pair, found in by_to.items():
                self.by_to.setdefault(pair, [])[:0] = found
            self.by_sid.update((m.sid, m) for m in added)
        else:
            self.newest_first, self.by_to = {}, {}
            for m in sorted(messages, key=_key, reverse=True):
                self.newest_first.setdefault(m.account_sid, []).append(m)
                self.by_to.setdefault((m.account_sid, m.to), []).append(m)
            self.by_sid = {m.sid: m for m in messages}
        self._size = len(messages)
        return self
