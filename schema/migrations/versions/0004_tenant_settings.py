"""Tenant selling settings: the scale label prefixes and the cashier's line-discount limit, per tenant.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

Two columns on ``tenants`` (next to ``stock_policy``), edited by owners at ``/api/v1/settings``:

``scale_prefixes``        JSON object, scale label prefix ("20".."29") -> "weight" | "price"; existing tenants
                          get the rules that were hard-coded until now (20, 21 weight; 22, 23 price). The API
                          validates it (``actors.sales.scale_barcodes.ScaleBarcodeRules``); no CHECK here.
``max_cashier_discount``  percent 0..100 (CHECK) a cashier may take off a line; existing tenants get 10.

The server defaults only fill existing rows and are dropped afterwards: new rows get theirs from the model,
as in 0002/0003.

No new table, so no new Row-Level Security. PostgreSQL: ``tenants`` already has the forced
``tenant_isolation`` policy (``id`` = the transaction's tenant) and 0001 granted ``storehub_app`` SELECT,
INSERT, UPDATE, DELETE on the whole table. A table-wide grant covers columns added later, so the app role
may update these columns of its own tenant's row and of no other; nothing to grant. ``storehub_lookup``
keeps reading only ``tenants(id, slug)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of schema.models.tenancy.DEFAULT_SCALE_PREFIXES / DEFAULT_MAX_CASHIER_DISCOUNT.
DEFAULT_SCALE_PREFIXES = '{"20": "weight", "21": "weight", "22": "price", "23": "price"}'
DEFAULT_MAX_CASHIER_DISCOUNT = "10"


def upgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scale_prefixes", sa.JSON(), nullable=False, server_default=DEFAULT_SCALE_PREFIXES)
        )
        batch_op.add_column(
            sa.Column(
                "max_cashier_discount",
                sa.BigInteger(),
                nullable=False,
                server_default=DEFAULT_MAX_CASHIER_DISCOUNT,
            )
        )
        batch_op.create_check_constraint("max_cashier_discount", "max_cashier_discount BETWEEN 0 AND 100")
    with op.batch_alter_table("tenants", schema=None) as batch_op:  # the defaults only filled existing rows
        batch_op.alter_column("scale_prefixes", server_default=None)
        batch_op.alter_column("max_cashier_discount", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_tenants_max_cashier_discount"), type_="check")
        batch_op.drop_column("max_cashier_discount")
        batch_op.drop_column("scale_prefixes")
