"""Returns and voids: a credit note is a ``sales`` row of kind 'return' naming the sale it returns from,
the reason and the approving manager. No new table, so no new Row-Level Security.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=8), server_default='sale', nullable=False))
        batch_op.add_column(sa.Column('original_sale_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('reason', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('approved_by', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_sales_tenant_id_original_sale_id_sales"),
            "sales",
            ["tenant_id", "original_sale_id"],
            ["tenant_id", "id"],
        )
        batch_op.create_check_constraint("kind", "kind IN ('sale', 'return')")
        # Credit notes are numbered in their own series.
        batch_op.drop_constraint(batch_op.f("uq_sales_tenant_id_number"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_sales_tenant_id_kind_number"), ["tenant_id", "kind", "number"])
    with op.batch_alter_table("sales", schema=None) as batch_op:  # the defaults only filled existing rows
        batch_op.alter_column("kind", server_default=None)
        batch_op.alter_column("reason", server_default=None)



def downgrade() -> None:
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_sales_tenant_id_kind_number"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_sales_tenant_id_number"), ["tenant_id", "number"])
        batch_op.drop_constraint(batch_op.f("ck_sales_kind"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_sales_tenant_id_original_sale_id_sales"), type_="foreignkey")
        batch_op.drop_column('approved_by')
        batch_op.drop_column('reason')
        batch_op.drop_column('original_sale_id')
        batch_op.drop_column('kind')

