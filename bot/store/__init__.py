"""The store: what the bot keeps, behind one set of async repositories
(`repositories`), with one package per backend (`sqlite`, the embedded default, and
`postgresql`), one schema history for both (`schema`); `backends` picks one."""

from bot.store.repositories import Store
from bot.store.values import (
    CLAIM_SECONDS,
    MAX_REFUSALS,
    CachedLookup,
    Change,
    Coverage,
    Draft,
    Drawn,
    IncidentRecord,
    Outgoing,
    PostKind,
    ReadingBack,
    SegmentMute,
)

__all__ = [
    "CLAIM_SECONDS",
    "MAX_REFUSALS",
    "CachedLookup",
    "Change",
    "Coverage",
    "Draft",
    "Drawn",
    "IncidentRecord",
    "Outgoing",
    "PostKind",
    "ReadingBack",
    "SegmentMute",
    "Store",
]
