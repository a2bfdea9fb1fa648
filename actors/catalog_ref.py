"""How registers read their tenant's catalog without a message per scan.

The TenantActor owns the catalog index and is the only writer; its registers hold a ``CatalogRef`` and
read ``current()`` directly. That is safe because every actor runs on the same event loop and the index is
never mutated across an ``await``. When the TenantActor stops (passivation, restart) it marks the ref
stale, and a register then asks for a fresh one, which reactivates the TenantActor and its change feed.
"""

from __future__ import annotations

from actors.sales.catalog_index import CatalogIndex


class StaleCatalogError(Exception):
    """The TenantActor that kept this index stopped; ask it for a fresh reference."""


class CatalogRef:
    __slots__ = ("_index", "stale")

    def __init__(self, index: CatalogIndex) -> None:
        self._index = index
        self.stale = False

    def current(self) -> CatalogIndex:
        if self.stale:
            raise StaleCatalogError("catalog reference is stale")
        return self._index

    def replace(self, index: CatalogIndex) -> None:
        self._index = index
