"""Catalog commands (imperative), replies and events (past tense)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

import msgspec

from schema.wire import Message

Money = Annotated[int, msgspec.Meta(ge=0, le=10**12)]

# The tenant stream on which every change to a product, and to the tenant's selling settings, is announced
# (caches reload from it).
CATALOG_STREAM = "catalog"


class LookupProduct(Message, frozen=True, kw_only=True):
    """Find an active product by barcode or internal code (SKU/PLU)."""

    code: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class SetPrice(Message, frozen=True, kw_only=True):
    """Change a product's price (minor units, tax included)."""

    product_id: uuid.UUID
    price: Money


class ProductView(Message, frozen=True, kw_only=True):
    id: uuid.UUID
    sku: str
    name: str
    price: int
    tax_class: str
    weighable: bool
    unit: str
    category_id: uuid.UUID | None = None
    barcodes: list[str] = []


class PriceChanged(Message, frozen=True, kw_only=True):
    product_id: uuid.UUID
    sku: str
    old_price: int
    price: int
    by_user: uuid.UUID | None = None


class ProductChanged(Message, frozen=True, kw_only=True):
    """A product (or its barcodes) changed; whoever caches it reloads it."""

    product_id: uuid.UUID


class TenantSettingsChanged(Message, frozen=True, kw_only=True):
    """The tenant's selling settings changed (``/api/v1/settings``); every TenantActor reloads them and its
    registers sell by the new rules from their next command. Carries the settings as committed."""

    stock_policy: Literal["allow", "block"]
    scale_prefixes: dict[str, Literal["weight", "price"]]
    max_cashier_discount: int
    by_user: uuid.UUID | None = None
