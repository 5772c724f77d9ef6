"""Faults the simulator can be told to commit, and what it records of each request."""

from dataclasses import dataclass

RANDOM_FAULTS = ("429", "500", "503", "hang", "truncated")


@dataclass
class Fault:
    """One scripted misbehaviour, applied to the next `times` requests whose path (with
    its query) holds `path_contains` (and whose method is `method`, when given)."""

    status: int = 500  # 0 answers normally (with `delay_seconds` or `truncate`)
    retry_after: float | None = None
    delay_seconds: float = 0
    truncate: bool = False
    path_contains: str = ""
    times: int = 1
    body: str = ""  # with status 0: this body, as a 200, in place of the real answer
    method: str = ""


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
