"""Lock: an OS lock on a file beside the database, held by the process that watches.

The kernel drops it when its process dies, however it dies (SIGKILL included), so the
next process can tell a dead watcher from a living one. POSIX `flock`; on Windows there
is none, and the store's lease alone decides.
"""

import os
import sys

from bot.store.leases import Lock

if sys.platform != "win32":
    import fcntl


class ProcessLock:
    def __init__(self, path: str | None) -> None:
        self.path = path  # None: no lock to take (a database in memory)
        self._fd: int | None = None

    def acquire(self) -> Lock:
        """ "held" already, "taken" now, "busy" (a living process holds it), or "none"
        (no such locks here). Raises OSError when the file cannot be opened."""
        if sys.platform == "win32" or self.path is None:
            return "none"
        if self._fd is not None:
            return "held"
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return "busy"
        self._fd = fd
        return "taken"

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the lock
            self._fd = None
