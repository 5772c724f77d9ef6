"""Service: the `Context` that command handlers ask, backed by the knowledge base and the store."""

from collections.abc import Mapping

from bot import knowledge
from bot.knowledge import Entry, Explanation
from bot.store import Store


class Service:
    def __init__(self, curated: Mapping[int, Entry], store: Store | None) -> None:
        self.curated = curated
        self.store = store

    def explain(self, code: int) -> Explanation:
        imported = None
        if code not in self.curated and self.store is not None:
            imported = self.store.imported_entry(code)
        return knowledge.explain(code, self.curated, imported)
