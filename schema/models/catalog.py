"""What a store sells and how much it has: categories, products, barcodes, stock levels.

Money is integer minor units (CLP has none, USD has cents). Quantities are integer thousandths of the
product's unit: 1 unit = 1000, and for products sold by the kilogram 1 gram = 1.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from schema.models.base import Base, TenantScoped, new_id, utcnow

TAX_CLASSES = ("cl_iva", "cl_exempt", "ec_iva15", "ec_iva5", "ec_iva0", "ec_exempt")
UNITS = ("unit", "kg")


class Category(TenantScoped, Base):
    __tablename__ = "categories"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(80))
    sort: Mapped[int] = mapped_column(default=0)


class Product(TenantScoped, Base):
    __tablename__ = "products"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "category_id"], ["categories.tenant_id", "categories.id"]),
        CheckConstraint(
            "tax_class IN ('cl_iva', 'cl_exempt', 'ec_iva15', 'ec_iva5', 'ec_iva0', 'ec_exempt')",
            name="tax_class",
        ),
        CheckConstraint("unit IN ('unit', 'kg')", name="unit"),
        CheckConstraint("price >= 0", name="price_nonnegative"),
        Index("ix_products_tenant_sku", "tenant_id", "sku", unique=True),
        Index("ix_products_tenant_search", "tenant_id", "search_name"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    sku: Mapped[str] = mapped_column(String(40))  # internal code / PLU
    name: Mapped[str] = mapped_column(String(200))
    search_name: Mapped[str] = mapped_column(String(200))  # lower case, accents removed
    category_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    price: Mapped[int]  # per unit (or per kg), minor units, tax included
    tax_class: Mapped[str] = mapped_column(String(10))
    weighable: Mapped[bool] = mapped_column(default=False)
    unit: Mapped[str] = mapped_column(String(4), default="unit")
    min_stock: Mapped[int] = mapped_column(default=0)  # thousandths of the unit
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ProductBarcode(TenantScoped, Base):
    __tablename__ = "product_barcodes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "product_id"], ["products.tenant_id", "products.id"], ondelete="CASCADE"
        ),
    )

    barcode: Mapped[str] = mapped_column(String(32), primary_key=True)
    product_id: Mapped[uuid.UUID]


class StockLevel(TenantScoped, Base):
    """Quantity on hand and its weighted-average cost (PPP), which changes only on receipts."""

    __tablename__ = "stock_levels"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "warehouse_id"], ["warehouses.tenant_id", "warehouses.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "product_id"], ["products.tenant_id", "products.id"], ondelete="CASCADE"
        ),
    )

    warehouse_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    quantity: Mapped[int] = mapped_column(default=0)  # thousandths of the unit
    avg_cost: Mapped[int] = mapped_column(default=0)  # minor units per unit, scaled by 10,000
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
