"""Selling: cash sessions, sales with lines and tenders, the stock ledger, folio ranges, pending fiscal
documents and per-tenant counters; stock levels keep their weighted-average cost instead of a total value.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Every new table is a tenant table: on PostgreSQL it gets the same forced Row-Level Security, policy and
grants as in 0001_foundation (whose docstring explains them).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "storehub_app"
NEW_TENANT_TABLES = (
    "counters",
    "folio_ranges",
    "stock_movements",
    "cash_sessions",
    "cash_movements",
    "sales",
    "fiscal_documents",
    "sale_lines",
    "sale_tenders",
)
TENANT_FILTER = "tenant_id = NULLIF(current_setting('storehub.tenant_id', true), '')::uuid"
# avg_cost is minor units per unit scaled by 10,000; quantity is in thousandths of the unit.
COST_PER_VALUE = 10_000 * 1000


def upgrade() -> None:
    op.create_table('counters',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_counters_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'name', name=op.f('pk_counters'))
    )
    op.create_table('folio_ranges',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('doc_type', sa.BigInteger(), nullable=False),
    sa.Column('first_folio', sa.BigInteger(), nullable=False),
    sa.Column('last_folio', sa.BigInteger(), nullable=False),
    sa.Column('next_folio', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('first_folio > 0 AND last_folio >= first_folio', name=op.f('ck_folio_ranges_bounds')),
    sa.CheckConstraint('next_folio >= first_folio AND next_folio <= last_folio + 1', name=op.f('ck_folio_ranges_next_in_range')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_folio_ranges_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_folio_ranges'))
    )
    with op.batch_alter_table('folio_ranges', schema=None) as batch_op:
        batch_op.create_index('ix_folio_ranges_doc', ['tenant_id', 'doc_type', 'first_folio'], unique=False)

    op.create_table('stock_movements',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('warehouse_id', sa.Uuid(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('quantity', sa.BigInteger(), nullable=False),
    sa.Column('cost', sa.BigInteger(), nullable=False),
    sa.Column('avg_cost_after', sa.BigInteger(), nullable=False),
    sa.Column('quantity_after', sa.BigInteger(), nullable=False),
    sa.Column('ref_id', sa.Uuid(), nullable=True),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('sale', 'receipt', 'return', 'adjust')", name=op.f('ck_stock_movements_kind')),
    sa.ForeignKeyConstraint(['tenant_id', 'product_id'], ['products.tenant_id', 'products.id'], name=op.f('fk_stock_movements_tenant_id_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'warehouse_id'], ['warehouses.tenant_id', 'warehouses.id'], name=op.f('fk_stock_movements_tenant_id_warehouse_id_warehouses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_stock_movements'))
    )
    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.create_index('ix_stock_movements_product', ['tenant_id', 'product_id', 'created_at'], unique=False)

    op.create_table('cash_sessions',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('register_id', sa.Uuid(), nullable=False),
    sa.Column('opened_by', sa.Uuid(), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('float_amount', sa.BigInteger(), nullable=False),
    sa.Column('closed_by', sa.Uuid(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('counted', sa.JSON(), nullable=True),
    sa.Column('expected', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'register_id'], ['registers.tenant_id', 'registers.id'], name=op.f('fk_cash_sessions_tenant_id_register_id_registers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_cash_sessions'))
    )
    with op.batch_alter_table('cash_sessions', schema=None) as batch_op:
        batch_op.create_index('ux_cash_sessions_open', ['tenant_id', 'register_id'], unique=True, sqlite_where=sa.text('closed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL'))

    op.create_table('cash_movements',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("direction IN ('in', 'out')", name=op.f('ck_cash_movements_direction')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_cash_movements_amount_positive')),
    sa.ForeignKeyConstraint(['tenant_id', 'session_id'], ['cash_sessions.tenant_id', 'cash_sessions.id'], name=op.f('fk_cash_movements_tenant_id_session_id_cash_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_cash_movements'))
    )
    op.create_table('sales',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.BigInteger(), nullable=False),
    sa.Column('register_id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('cash_session_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('command_id', sa.String(length=64), nullable=False),
    sa.Column('doc_type', sa.BigInteger(), nullable=False),
    sa.Column('folio', sa.BigInteger(), nullable=True),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('rounding', sa.BigInteger(), nullable=False),
    sa.Column('to_pay', sa.BigInteger(), nullable=False),
    sa.Column('change', sa.BigInteger(), nullable=False),
    sa.Column('cost', sa.BigInteger(), nullable=False),
    sa.Column('taxes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'cash_session_id'], ['cash_sessions.tenant_id', 'cash_sessions.id'], name=op.f('fk_sales_tenant_id_cash_session_id_cash_sessions')),
    sa.ForeignKeyConstraint(['tenant_id', 'register_id'], ['registers.tenant_id', 'registers.id'], name=op.f('fk_sales_tenant_id_register_id_registers')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_sales')),
    sa.UniqueConstraint('tenant_id', 'number', name=op.f('uq_sales_tenant_id_number')),
    sa.UniqueConstraint('tenant_id', 'register_id', 'command_id', name=op.f('uq_sales_tenant_id_register_id_command_id'))
    )
    op.create_table('fiscal_documents',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('sale_id', sa.Uuid(), nullable=False),
    sa.Column('doc_type', sa.BigInteger(), nullable=False),
    sa.Column('folio', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=400), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'sale_id'], ['sales.tenant_id', 'sales.id'], name=op.f('fk_fiscal_documents_tenant_id_sale_id_sales'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_fiscal_documents')),
    sa.UniqueConstraint('tenant_id', 'doc_type', 'folio', name=op.f('uq_fiscal_documents_tenant_id_doc_type_folio'))
    )
    op.create_table('sale_lines',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('sale_id', sa.Uuid(), nullable=False),
    sa.Column('line_no', sa.BigInteger(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('sku', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('unit', sa.String(length=4), nullable=False),
    sa.Column('tax_class', sa.String(length=10), nullable=False),
    sa.Column('quantity', sa.BigInteger(), nullable=False),
    sa.Column('unit_price', sa.BigInteger(), nullable=False),
    sa.Column('discount_percent', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('cost', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'product_id'], ['products.tenant_id', 'products.id'], name=op.f('fk_sale_lines_tenant_id_product_id_products')),
    sa.ForeignKeyConstraint(['tenant_id', 'sale_id'], ['sales.tenant_id', 'sales.id'], name=op.f('fk_sale_lines_tenant_id_sale_id_sales'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'sale_id', 'line_no', name=op.f('pk_sale_lines'))
    )
    op.create_table('sale_tenders',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('sale_id', sa.Uuid(), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('tendered', sa.BigInteger(), nullable=False),
    sa.Column('change', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("kind IN ('cash', 'card')", name=op.f('ck_sale_tenders_kind')),
    sa.ForeignKeyConstraint(['tenant_id', 'sale_id'], ['sales.tenant_id', 'sales.id'], name=op.f('fk_sale_tenders_tenant_id_sale_id_sales'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'sale_id', 'n', name=op.f('pk_sale_tenders'))
    )
    with op.batch_alter_table("stock_levels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("avg_cost", sa.BigInteger(), nullable=False, server_default="0"))
    # The average was value / quantity: carry it over wherever there was stock.
    op.execute(f"UPDATE stock_levels SET avg_cost = (value * {COST_PER_VALUE}) / quantity WHERE quantity > 0")
    with op.batch_alter_table("stock_levels", schema=None) as batch_op:
        batch_op.drop_column("value")
        batch_op.alter_column("avg_cost", server_default=None)
    if op.get_bind().dialect.name == "postgresql":
        secure_postgres()


def secure_postgres() -> None:
    quote = op.get_bind().dialect.identifier_preparer.quote
    for table in NEW_TENANT_TABLES:
        t = quote(table)
        op.execute(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {t} FOR ALL USING ({TENANT_FILTER}) WITH CHECK ({TENANT_FILTER})"
        )
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {t} TO {APP_ROLE}")


def downgrade() -> None:
    with op.batch_alter_table("stock_levels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("value", sa.BigInteger(), nullable=False, server_default="0"))
    op.execute(f"UPDATE stock_levels SET value = (quantity * avg_cost) / {COST_PER_VALUE} WHERE quantity > 0")
    with op.batch_alter_table("stock_levels", schema=None) as batch_op:
        batch_op.drop_column("avg_cost")

    op.drop_table('sale_tenders')
    op.drop_table('sale_lines')
    op.drop_table('fiscal_documents')
    op.drop_table('sales')
    op.drop_table('cash_movements')
    with op.batch_alter_table('cash_sessions', schema=None) as batch_op:
        batch_op.drop_index('ux_cash_sessions_open', sqlite_where=sa.text('closed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL'))

    op.drop_table('cash_sessions')
    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_movements_product')

    op.drop_table('stock_movements')
    with op.batch_alter_table('folio_ranges', schema=None) as batch_op:
        batch_op.drop_index('ix_folio_ranges_doc')

    op.drop_table('folio_ranges')
    op.drop_table('counters')
