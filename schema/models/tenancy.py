"""Tenants and their places: stores, warehouses, registers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Final

from sqlalchemy import JSON, CheckConstraint, ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from schema.models.base import Base, TenantScoped, new_id, utcnow

COUNTRIES = ("CL", "EC")
STORE_MODES = ("retail", "restaurant")
STOCK_POLICIES = ("allow", "block")
# Selling settings of a new tenant (columns of ``tenants``, edited at ``/api/v1/settings``). The scale
# prefixes equal ``actors.sales.scale_barcodes.DEFAULT_RULES`` (a test keeps them equal).
DEFAULT_SCALE_PREFIXES: Final = {"20": "weight", "21": "weight", "22": "price", "23": "price"}
DEFAULT_MAX_CASHIER_DISCOUNT: Final = 10  # percent a cashier may take off a line; more needs a manager


class Tenant(Base):
    """A company (one taxpayer). Its ``id`` is the tenant id every other row carries."""

    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint("country IN ('CL', 'EC')", name="country"),
        CheckConstraint("stock_policy IN ('allow', 'block')", name="stock_policy"),
        CheckConstraint("max_cashier_discount BETWEEN 0 AND 100", name="max_cashier_discount"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    legal_name: Mapped[str] = mapped_column(String(200), default="")
    country: Mapped[str] = mapped_column(String(2))
    tax_id: Mapped[str] = mapped_column(String(20))  # RUT (CL) or RUC (EC), normalised
    currency: Mapped[str] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64))
    stock_policy: Mapped[str] = mapped_column(String(8), default="allow")
    # Scale label prefix ("20".."29") -> "weight" | "price"; see actors.sales.scale_barcodes.
    scale_prefixes: Mapped[dict[str, str]] = mapped_column(JSON, default=lambda: dict(DEFAULT_SCALE_PREFIXES))
    max_cashier_discount: Mapped[int] = mapped_column(default=DEFAULT_MAX_CASHIER_DISCOUNT)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.id


class Warehouse(TenantScoped, Base):
    __tablename__ = "warehouses"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Store(TenantScoped, Base):
    """A shop or restaurant; its registers sell from its warehouse."""

    __tablename__ = "stores"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "warehouse_id"], ["warehouses.tenant_id", "warehouses.id"]),
        CheckConstraint("mode IN ('retail', 'restaurant')", name="mode"),
        UniqueConstraint("tenant_id", "code"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(20))  # branch code (SII sucursal / SRI establecimiento)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(80), default="")
    mode: Mapped[str] = mapped_column(String(12), default="retail")
    warehouse_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Register(TenantScoped, Base):
    """A till (caja / punto de emisión)."""

    __tablename__ = "registers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "store_id"], ["stores.tenant_id", "stores.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("tenant_id", "store_id", "code"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    store_id: Mapped[uuid.UUID]
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KitchenStation(TenantScoped, Base):
    """A kitchen display station (hot line, cold line, bar); tickets are routed to it by category."""

    __tablename__ = "kitchen_stations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "store_id"], ["stores.tenant_id", "stores.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("tenant_id", "store_id", "code"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    store_id: Mapped[uuid.UUID]
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
