"""How registers read their tenant's catalog and selling rules without a message per scan.

The TenantActor owns the catalog index and the tenant's :class:`SellingRules` and is the only writer; its
registers hold a ``CatalogRef`` and read ``current()`` and ``rules()`` directly. That is safe because every
actor runs on the same event loop and the index is never mutated across an ``await``; the rules are an
immutable value, swapped whole. When the TenantActor stops (passivation, restart) it marks the ref stale,
and a register then asks for a fresh one, which reactivates the TenantActor and its change feed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from actors.sales.catalog_index import CatalogIndex
from actors.sales.scale_barcodes import DEFAULT_RULES, ScaleBarcodeRules
from schema.models.tenancy import DEFAULT_MAX_CASHIER_DISCOUNT


class StaleCatalogError(Exception):
    """The TenantActor that kept this index stopped; ask it for a fresh reference."""


@dataclass(frozen=True, slots=True)
class SellingRules:
    """The tenant's selling settings as the tills apply them (columns of ``tenants``)."""

    block_negative_stock: bool = False  # stock_policy 'block': refuse a sale the stock does not cover
    scale: ScaleBarcodeRules = field(default=DEFAULT_RULES)  # how scale labels are read
    max_cashier_discount: int = DEFAULT_MAX_CASHIER_DISCOUNT  # percent per line; more needs a manager


class CatalogRef:
    __slots__ = ("_index", "_rules", "stale")

    def __init__(self, index: CatalogIndex, rules: SellingRules | None = None) -> None:
        self._index = index
        self._rules = rules if rules is not None else SellingRules()
        self.stale = False

    def current(self) -> CatalogIndex:
        if self.stale:
            raise StaleCatalogError("catalog reference is stale")
        return self._index

    def rules(self) -> SellingRules:
        if self.stale:
            raise StaleCatalogError("catalog reference is stale")
        return self._rules

    def replace(self, index: CatalogIndex) -> None:
        self._index = index

    def replace_rules(self, rules: SellingRules) -> None:
        self._rules = rules
