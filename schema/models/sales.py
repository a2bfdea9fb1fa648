"""Selling: cash sessions, sales (immutable once written) with lines and tenders, stock movements (the
ledger), folio ranges, pending fiscal documents and per-tenant counters."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from schema.models.base import Base, TenantScoped, new_id, utcnow


class Counter(TenantScoped, Base):
    """A per-tenant sequence (``sale``): incremented under a row lock inside the sale's transaction."""

    __tablename__ = "counters"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),)

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


class CashSession(TenantScoped, Base):
    """A till's shift: opened with a float, closed with a blind count. One open session per register."""

    __tablename__ = "cash_sessions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "register_id"], ["registers.tenant_id", "registers.id"], ondelete="CASCADE"
        ),
        Index(
            "ux_cash_sessions_open",
            "tenant_id",
            "register_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    register_id: Mapped[uuid.UUID]
    opened_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    float_amount: Mapped[int]
    closed_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    counted: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    expected: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class CashMovement(TenantScoped, Base):
    __tablename__ = "cash_movements"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "session_id"], ["cash_sessions.tenant_id", "cash_sessions.id"], ondelete="CASCADE"
        ),
        CheckConstraint("direction IN ('in', 'out')", name="direction"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    session_id: Mapped[uuid.UUID]
    direction: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int]
    reason: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Sale(TenantScoped, Base):
    """A completed sale, or a credit note (``kind='return'``, doc type 61) that gives some of one back.

    Never updated. A credit note stores its amounts and quantities negated, so every sum over sales (the
    Z-report, the dashboard) is right without knowing about returns; it names the sale it returns from, the
    reason, and the manager who approved it.
    """

    __tablename__ = "sales"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "register_id"], ["registers.tenant_id", "registers.id"]),
        ForeignKeyConstraint(["tenant_id", "original_sale_id"], ["sales.tenant_id", "sales.id"]),
        CheckConstraint("kind IN ('sale', 'return')", name="kind"),
        ForeignKeyConstraint(
            ["tenant_id", "cash_session_id"], ["cash_sessions.tenant_id", "cash_sessions.id"]
        ),
        UniqueConstraint("tenant_id", "kind", "number"),  # sales and credit notes are numbered apart
        Index("ix_sales_original", "tenant_id", "original_sale_id"),  # a sale's credit notes
        # The till's command id: a checkout resent after a lost reply finds the sale it already made.
        UniqueConstraint("tenant_id", "register_id", "command_id"),
        ForeignKeyConstraint(["tenant_id", "tab_id"], ["tabs.tenant_id", "tabs.id"]),
        CheckConstraint("tip >= 0", name="tip"),
        Index("ix_sales_tab", "tenant_id", "tab_id"),  # the sales that paid a restaurant tab
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    number: Mapped[int]
    kind: Mapped[str] = mapped_column(String(8), default="sale")
    original_sale_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    buyer: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # a factura's receiver
    reason: Mapped[str] = mapped_column(String(200), default="")
    approved_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    register_id: Mapped[uuid.UUID]
    store_id: Mapped[uuid.UUID]
    cash_session_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    command_id: Mapped[str] = mapped_column(String(64))
    doc_type: Mapped[int]
    folio: Mapped[int | None] = mapped_column(default=None)
    total: Mapped[int]
    rounding: Mapped[int] = mapped_column(default=0)
    to_pay: Mapped[int]
    change: Mapped[int] = mapped_column(default=0)
    cost: Mapped[int] = mapped_column(default=0)  # cost of goods at PPP
    taxes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Restaurant mode: the propina paid on top (in the tenders, never in total, to_pay, the taxes or the tax
    # document) and the tab this sale paid.
    tip: Mapped[int] = mapped_column(default=0)
    tab_id: Mapped[uuid.UUID | None] = mapped_column(default=None)


class SaleLine(TenantScoped, Base):
    __tablename__ = "sale_lines"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "sale_id"], ["sales.tenant_id", "sales.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "product_id"], ["products.tenant_id", "products.id"]),
    )

    sale_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    line_no: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[uuid.UUID]
    sku: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(4))
    tax_class: Mapped[str] = mapped_column(String(10))
    quantity: Mapped[int]
    unit_price: Mapped[int]
    discount_percent: Mapped[int] = mapped_column(default=0)
    total: Mapped[int]
    cost: Mapped[int] = mapped_column(default=0)  # cost of goods snapshot at PPP


class SaleTender(TenantScoped, Base):
    __tablename__ = "sale_tenders"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "sale_id"], ["sales.tenant_id", "sales.id"], ondelete="CASCADE"),
        CheckConstraint("kind IN ('cash', 'card')", name="kind"),
    )

    sale_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    amount: Mapped[int]  # applied to the sale
    tendered: Mapped[int]
    change: Mapped[int] = mapped_column(default=0)


class StockMovement(TenantScoped, Base):
    """The stock ledger: every change of a stock level, with the average cost it happened at."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "warehouse_id"], ["warehouses.tenant_id", "warehouses.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "product_id"], ["products.tenant_id", "products.id"], ondelete="CASCADE"
        ),
        CheckConstraint("kind IN ('sale', 'receipt', 'return', 'adjust')", name="kind"),
        Index("ix_stock_movements_product", "tenant_id", "product_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    warehouse_id: Mapped[uuid.UUID]
    product_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int]  # signed thousandths: negative leaves the warehouse
    cost: Mapped[int]  # minor units, at the average cost of the moment (or the receipt's cost)
    avg_cost_after: Mapped[int]  # scaled by 10,000
    quantity_after: Mapped[int]
    ref_id: Mapped[uuid.UUID | None] = mapped_column(default=None)  # the sale, receipt...
    user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FolioRange(TenantScoped, Base):
    """Folios authorized for one document type (a CAF in Chile); consumed in order, gapless."""

    __tablename__ = "folio_ranges"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        CheckConstraint("first_folio > 0 AND last_folio >= first_folio", name="bounds"),
        CheckConstraint("next_folio >= first_folio AND next_folio <= last_folio + 1", name="next_in_range"),
        Index("ix_folio_ranges_doc", "tenant_id", "doc_type", "first_folio"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    doc_type: Mapped[int]
    first_folio: Mapped[int]
    last_folio: Mapped[int]
    next_folio: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FiscalDocument(TenantScoped, Base):
    """The tax document of a sale; the fiscal pipeline moves it from ``pending`` onwards."""

    __tablename__ = "fiscal_documents"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "sale_id"], ["sales.tenant_id", "sales.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(
            ["tenant_id", "envelope_id"], ["fiscal_envelopes.tenant_id", "fiscal_envelopes.id"]
        ),
        UniqueConstraint("tenant_id", "doc_type", "folio"),
        Index("ix_fiscal_documents_due", "tenant_id", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    sale_id: Mapped[uuid.UUID]
    doc_type: Mapped[int]
    folio: Mapped[int | None] = mapped_column(default=None)
    # pending (not signed yet; ``reason`` says what it waits for), signed, sent (in an envelope the authority
    # took), accepted, accepted_with_objections, rejected (``reason`` has the authority's words)
    status: Mapped[str] = mapped_column(String(24), default="pending")
    reason: Mapped[str] = mapped_column(String(400), default="")
    xml: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)  # the signed DTE, never rebuilt
    envelope_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    authority_state: Mapped[str] = mapped_column(String(8), default="")  # e.g. DOK, RCH
    attempts: Mapped[int] = mapped_column(default=0)  # failed tries to sign (e.g. no certificate yet)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
