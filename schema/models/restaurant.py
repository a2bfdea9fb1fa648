"""Restaurant mode: a store's floor plan (areas, tables), product modifiers, and the tabs of its tables.

A tab ("cuenta") is opened on a table and accumulates items until it is paid. Each item is one line
(``tab_items``, numbered per tab, never renumbered) with its unit price fixed when it was added (the product's
price plus its modifiers' deltas), its course, whether it is held, sent to the kitchen, voided or paid (by
which sale). Paying part of a line splits it: the paid part becomes a new line.

``floor_settings.rev`` numbers every change of a store's floor (a tab opened, changed, paid; the plan, the tip
percent or the modifiers edited). Incremented with ``UPDATE ... RETURNING`` in the change's own transaction,
it is gapless, survives restarts, and its row lock orders the store's changes across hub nodes. A table has
at most one open tab (``ux_tabs_open_table``, a partial unique index on both backends).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKeyConstraint, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from schema.models.base import Base, TenantScoped, new_id, utcnow

DEFAULT_TIP_PERCENT = 10  # the suggested propina in Chile


def _store_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id", "store_id"], ["stores.tenant_id", "stores.id"], ondelete="CASCADE"
    )


class FloorSettings(TenantScoped, Base):
    """A restaurant store's floor settings and its change counter (made with the defaults on first use)."""

    __tablename__ = "floor_settings"
    __table_args__ = (
        _store_fk(),
        CheckConstraint("tip_percent BETWEEN 0 AND 100", name="tip_percent"),
    )

    store_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tip_percent: Mapped[int] = mapped_column(default=DEFAULT_TIP_PERCENT)
    rev: Mapped[int] = mapped_column(default=0)  # the store's last floor change
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FloorArea(TenantScoped, Base):
    """A room of the floor plan ("Salón", "Terraza"). An area whose tables all have tab history is
    deactivated rather than deleted: those tables still name it."""

    __tablename__ = "floor_areas"
    __table_args__ = (_store_fk(),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    store_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FloorTable(TenantScoped, Base):
    """A table, placed on its area's plan at (x, y) percent. A table with tab history is deactivated rather
    than deleted (its tabs keep naming it); its name is then free for a new table."""

    __tablename__ = "floor_tables"
    __table_args__ = (
        _store_fk(),
        ForeignKeyConstraint(["tenant_id", "area_id"], ["floor_areas.tenant_id", "floor_areas.id"]),
        CheckConstraint("x BETWEEN 0 AND 100 AND y BETWEEN 0 AND 100", name="position"),
        CheckConstraint("seats BETWEEN 1 AND 99", name="seats"),
        CheckConstraint("shape IN ('square', 'round')", name="shape"),
        Index(
            "ux_floor_tables_name",
            "tenant_id",
            "store_id",
            "name",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    store_id: Mapped[uuid.UUID]
    area_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(20))
    seats: Mapped[int] = mapped_column(default=4)
    x: Mapped[int] = mapped_column(default=0)
    y: Mapped[int] = mapped_column(default=0)
    shape: Mapped[str] = mapped_column(String(8), default="square")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProductModifier(TenantScoped, Base):
    """An option of a product ("Punto: a punto", "Agregado: palta +$800"); ``price_delta`` is added to the
    product's price when an item is ordered with it."""

    __tablename__ = "product_modifiers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "product_id"], ["products.tenant_id", "products.id"], ondelete="CASCADE"
        ),
        Index("ix_product_modifiers_product", "tenant_id", "product_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    product_id: Mapped[uuid.UUID]
    group_name: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(60))
    price_delta: Mapped[int] = mapped_column(default=0)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Tab(TenantScoped, Base):
    """An open ticket ("cuenta") of a table; ``closed`` once paid, ``merged`` once its items moved into
    ``merged_into``. ``rev`` is the store's floor rev at the tab's last change."""

    __tablename__ = "tabs"
    __table_args__ = (
        _store_fk(),
        ForeignKeyConstraint(["tenant_id", "table_id"], ["floor_tables.tenant_id", "floor_tables.id"]),
        ForeignKeyConstraint(["tenant_id", "merged_into"], ["tabs.tenant_id", "tabs.id"]),
        CheckConstraint("status IN ('open', 'closed', 'merged')", name="status"),
        CheckConstraint("guests BETWEEN 1 AND 99", name="guests"),
        UniqueConstraint("tenant_id", "number"),
        Index(
            "ux_tabs_open_table",
            "tenant_id",
            "table_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_tabs_store_status", "tenant_id", "store_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    store_id: Mapped[uuid.UUID]
    table_id: Mapped[uuid.UUID]
    number: Mapped[int]
    status: Mapped[str] = mapped_column(String(8), default="open")
    guests: Mapped[int] = mapped_column(default=1)
    opened_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    merged_into: Mapped[uuid.UUID | None] = mapped_column(default=None)
    rev: Mapped[int] = mapped_column(default=0)


class TabItem(TenantScoped, Base):
    """One line of a tab: ``n`` numbers it within the tab and is never reused."""

    __tablename__ = "tab_items"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "tab_id"], ["tabs.tenant_id", "tabs.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "product_id"], ["products.tenant_id", "products.id"]),
        ForeignKeyConstraint(["tenant_id", "sale_id"], ["sales.tenant_id", "sales.id"]),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("unit_price >= 0", name="unit_price"),
        CheckConstraint("course BETWEEN 1 AND 5", name="course"),
        Index("ix_tab_items_sale", "tenant_id", "sale_id"),
    )

    tab_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))  # the product's name when ordered
    unit_price: Mapped[int]  # tax included: price + modifier deltas
    quantity: Mapped[int]  # thousandths
    # [{"group": ..., "name": ..., "price_delta": ...}] as chosen when ordered
    modifiers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(String(200), default="")
    course: Mapped[int] = mapped_column(default=1)
    held: Mapped[bool] = mapped_column(default=False)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    kitchen_order_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    sale_id: Mapped[uuid.UUID | None] = mapped_column(default=None)  # paid by
    voided: Mapped[bool] = mapped_column(default=False)
    void_reason: Mapped[str] = mapped_column(String(200), default="")
    voided_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    added_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
