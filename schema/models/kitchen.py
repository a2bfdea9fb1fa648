"""The kitchen: which station cooks what (routes), each station's settings, and the tickets it cooks.

A restaurant order becomes one ticket per station (``kitchen_tickets``), each with its items
(``kitchen_items``). Tickets and items move new -> in_progress -> ready -> served; a served ticket leaves the
screen but its row stays, with its times, for the owner's dashboard (preparation and waiting times).

``kitchen_settings.rev`` numbers every change of a station (a ticket opened, bumped, recalled, an item
done, a threshold changed). Incremented with ``UPDATE ... RETURNING`` in the change's own transaction, it
is gapless and survives restarts, so a screen can tell whether it has applied every change in order.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from schema.models.base import Base, TenantScoped, new_id, utcnow

TICKET_STATES = ("new", "in_progress", "ready", "served")
DEFAULT_WARN_AFTER_S = 8 * 60  # a ticket older than this turns yellow on the screen
DEFAULT_LATE_AFTER_S = 15 * 60  # ... and red after this
_STATE_CHECK = "state IN ('new', 'in_progress', 'ready', 'served')"


class KitchenRoute(TenantScoped, Base):
    """Items of ``category_id`` sold in ``store_id`` are cooked at ``station_id``. A category without a
    route goes to the store's first station (by code)."""

    __tablename__ = "kitchen_routes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "store_id"], ["stores.tenant_id", "stores.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "category_id"], ["categories.tenant_id", "categories.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "station_id"],
            ["kitchen_stations.tenant_id", "kitchen_stations.id"],
            ondelete="CASCADE",
        ),
    )

    store_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    category_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    station_id: Mapped[uuid.UUID]


class KitchenSettings(TenantScoped, Base):
    """A station's age thresholds and its change counter (kept apart so kitchen_stations stays as it is)."""

    __tablename__ = "kitchen_settings"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "station_id"],
            ["kitchen_stations.tenant_id", "kitchen_stations.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint("warn_after_s > 0 AND late_after_s > warn_after_s", name="thresholds"),
    )

    station_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    warn_after_s: Mapped[int] = mapped_column(default=DEFAULT_WARN_AFTER_S)
    late_after_s: Mapped[int] = mapped_column(default=DEFAULT_LATE_AFTER_S)
    rev: Mapped[int] = mapped_column(default=0)  # the station's last change (of a ticket or of these)
    settings_rev: Mapped[int] = mapped_column(default=0)  # the last change of these thresholds
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class KitchenTicket(TenantScoped, Base):
    """The part of one order that one station cooks. ``order_id`` is the client's id for the order: a
    resent order finds its tickets instead of making new ones (unique per station)."""

    __tablename__ = "kitchen_tickets"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "station_id"],
            ["kitchen_stations.tenant_id", "kitchen_stations.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(_STATE_CHECK, name="state"),
        UniqueConstraint("tenant_id", "order_id", "station_id"),
        Index("ix_kitchen_tickets_open", "tenant_id", "station_id", "state"),
        Index("ix_kitchen_tickets_served", "tenant_id", "station_id", "served_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    station_id: Mapped[uuid.UUID]
    store_id: Mapped[uuid.UUID]  # the station's, for per-store dashboards without a join
    order_id: Mapped[uuid.UUID]
    table_label: Mapped[str] = mapped_column(String(20), default="")
    server: Mapped[str] = mapped_column(String(60), default="")  # who took the order
    course: Mapped[str] = mapped_column(String(30), default="")
    note: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(12), default="new")
    rev: Mapped[int] = mapped_column(default=0)  # the station's rev at this ticket's last change
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    ready_at: Mapped[datetime | None] = mapped_column(default=None)
    served_at: Mapped[datetime | None] = mapped_column(default=None)


class KitchenItem(TenantScoped, Base):
    """One line of a ticket: what to cook, how many (thousandths), with which modifiers."""

    __tablename__ = "kitchen_items"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "ticket_id"],
            ["kitchen_tickets.tenant_id", "kitchen_tickets.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(["tenant_id", "product_id"], ["products.tenant_id", "products.id"]),
        CheckConstraint(_STATE_CHECK, name="state"),
    )

    ticket_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    line_no: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))  # the product's name when ordered
    quantity: Mapped[int]  # thousandths of the unit
    modifiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(12), default="new")
