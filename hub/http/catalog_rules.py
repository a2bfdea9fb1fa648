"""Product bodies and the rules they must follow (kept apart so ``products.py`` stays about HTTP)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from hub.http.common import In, Out
from schema.barcodes import is_valid_gtin
from schema.errors import ValidationError

# Same values as schema.models.catalog.TAX_CLASSES / UNITS (a test keeps them equal).
TaxClass = Literal["cl_iva", "cl_exempt", "ec_iva15", "ec_iva5", "ec_iva0", "ec_exempt"]
Unit = Literal["unit", "kg"]

Sku = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._/-]+$")]
ProductName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Price = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000_000)]  # minor units
Quantity = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000_000)]  # thousandths
Barcode = Annotated[str, msgspec.Meta(min_length=4, max_length=32, pattern=r"^[0-9]+$")]
Barcodes = Annotated[list[Barcode], msgspec.Meta(max_length=20)]

GTIN_LENGTHS = (8, 12, 13, 14)


class ProductIn(In, frozen=True):
    sku: Sku
    name: ProductName
    price: Price
    tax_class: TaxClass
    category_id: uuid.UUID | None = None
    weighable: bool = False
    unit: Unit = "unit"
    min_stock: Quantity = 0
    barcodes: Barcodes = []


class ProductPatch(In, frozen=True):
    sku: Sku | msgspec.UnsetType = msgspec.UNSET
    name: ProductName | msgspec.UnsetType = msgspec.UNSET
    price: Price | msgspec.UnsetType = msgspec.UNSET
    tax_class: TaxClass | msgspec.UnsetType = msgspec.UNSET
    category_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET
    weighable: bool | msgspec.UnsetType = msgspec.UNSET
    unit: Unit | msgspec.UnsetType = msgspec.UNSET
    min_stock: Quantity | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET
    barcodes: Barcodes | msgspec.UnsetType = msgspec.UNSET  # replaces the whole set


class ProductOut(Out, frozen=True):
    id: uuid.UUID
    sku: str
    name: str
    category_id: uuid.UUID | None
    price: int
    tax_class: str
    weighable: bool
    unit: str
    min_stock: int
    active: bool
    barcodes: list[str]
    created_at: datetime
    updated_at: datetime


class ProductPage(Out, frozen=True):
    items: list[ProductOut]
    limit: int
    offset: int
    next_offset: int | None


def validate_barcodes(barcodes: Sequence[str]) -> list[str]:
    if len(set(barcodes)) != len(barcodes):
        raise ValidationError("barcodes repeat", field="barcodes")
    for code in barcodes:
        if len(code) in GTIN_LENGTHS and not is_valid_gtin(code):
            raise ValidationError(f"barcode {code} has a wrong check digit", field="barcodes", barcode=code)
    return list(barcodes)


def validate_tax_class(tax_class: str, country: str) -> None:
    if not tax_class.startswith(country.lower() + "_"):
        raise ValidationError(
            f"tax class {tax_class} does not apply in {country}", field="tax_class", country=country
        )


def validate_unit(weighable: bool, unit: str) -> None:
    if weighable and unit != "kg":
        raise ValidationError("weighable products are sold by the kg", field="unit")
