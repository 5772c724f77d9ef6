"""Merging: what a row read from the poll keeps of the row the store holds, the same rule
in every backend (their rows differ only in how dates are typed)."""

from collections.abc import Mapping
from typing import Any, TypeVar

from bot.domain.messages import FINAL_STATUSES

R = TypeVar("R", bound=Mapping[str, Any])


def kept_final(row: R, held: Mapping[str, Any] | None) -> R:
    """`row`, keeping the held final status and code over one that is not final: a page
    read before a pushed report arrived must not undo it (Twilio's state only moves on)."""
    if held is None or held["status"] not in FINAL_STATUSES or row["status"] in FINAL_STATUSES:
        return row
    return {**row, "status": held["status"], "error_code": held["error_code"]}  # type: ignore[return-value]


def news(row: Mapping[str, Any], held: Mapping[str, Any] | None) -> bool:
    """Whether `row` brings a final status (or code) the store did not hold."""
    if row["status"] not in FINAL_STATUSES:
        return False
    return held is None or (held["status"], held["error_code"]) != (
        row["status"],
        row["error_code"],
    )
