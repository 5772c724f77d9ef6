"""Leases: the watcher's lease as both backends keep it (one JSON row), and the rules for
taking and giving it back. Pure: the backends read the row, hold their lock, and write
what these return.

Each term has a fencing token, which grows with every change of holder. A term that began
because the last holder was proven gone (the lock it held came free: its process died)
or gave the lease back also frees the claims of the terms before it (`freed`); one that
began because a lease ran out does not: its holder may be alive and mid-post.
"""

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from bot.errors import LeaseLost
from bot.store.encoding import iso

Lock = Literal["held", "taken", "busy", "none"]  # what a backend's lock said ("none": no lock)
LEASE_LOST = "another watcher took the lease over; this one stands by and writes nothing"


@dataclass(frozen=True)
class LeaseRow:
    holder: str | None = None
    until: datetime | None = None
    token: int = 0
    locked: bool = True  # the holder holds the lock (older rows: it always did)
    freed: int = 0  # claims made under this token or an earlier one are free

    @classmethod
    def parse(cls, text: str | None) -> "LeaseRow":
        if not text:
            return cls()
        holder, until, *rest = json.loads(text)
        # Older rows are shorter: [holder, until], then with the token.
        token, locked, freed = [*rest, *[0, True, 0][len(rest) :]][:3]
        return cls(holder, datetime.fromisoformat(until), int(token), bool(locked), int(freed))

    def text(self) -> str:
        until = iso(self.until) if self.until else None
        return json.dumps([self.holder, until, self.token, self.locked, self.freed])


def taken(row: LeaseRow, owner: str, now: datetime, ttl: timedelta, lock: Lock) -> LeaseRow | None:
    """The row once `owner` holds the lease until now + ttl, or None when it may not: a
    holder's lease is current and the holder is not proven gone."""
    # The lock came free though the holder had it: its process is gone.
    gone = lock == "taken" and row.locked
    current = row.until is not None and row.until > now
    if row.holder not in (None, owner) and current and not gone:
        return None
    locked = lock in ("held", "taken")
    if row.holder == owner:
        return replace(row, until=now + ttl, locked=locked)
    freed = row.token if (row.holder is None or gone) else row.freed
    return LeaseRow(owner, now + ttl, row.token + 1, locked, freed)


def fenced(row: LeaseRow, fence: int | None) -> LeaseRow:
    """The lease, once a write fenced with `fence` (None: not fenced) may go ahead;
    LeaseLost when the lease has passed to another term since."""
    if fence is not None and fence != row.token:
        raise LeaseLost(LEASE_LOST)
    return row


def released(row: LeaseRow, owner: str) -> LeaseRow | None:
    """The row once `owner` gives the lease back (None: it is not theirs). The row stays,
    so the token goes on growing; what it claimed is free."""
    if row.holder != owner:
        return None
    return replace(row, holder=None, locked=False, freed=row.token)
