"""Restaurant mode: floor plans (areas, tables), product modifiers, tabs and their items; tips on sales.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Six tenant tables; on PostgreSQL each gets the same forced Row-Level Security, policy and grants as in
0001_foundation (whose docstring explains them). ``floor_settings`` holds a restaurant store's suggested tip
percent (10) and its floor change counter ``rev``. ``ux_tabs_open_table`` is a partial unique index (both
backends support them): a table has at most one open tab, whichever hub node opens it.
``ux_floor_tables_name`` keeps the names of a store's active tables unique; a deactivated table (one with
tab history is never deleted) frees its name.

``sales`` gets ``tip`` (the propina paid on top, never in ``total``; existing rows 0, the server default only
fills them and is dropped afterwards, as in 0004) and ``tab_id`` (the tab a sale paid), with their
constraint and index. No new Row-Level Security for ``sales``: its policy and table-wide grants cover new
columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "storehub_app"
TENANT_FILTER = "tenant_id = NULLIF(current_setting('storehub.tenant_id', true), '')::uuid"
TABLES = ("floor_settings", "floor_areas", "floor_tables", "product_modifiers", "tabs", "tab_items")


def _store_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "store_id"],
        ["stores.tenant_id", "stores.id"],
        name=op.f(f"fk_{table}_tenant_id_store_id_stores"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "floor_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("tip_percent", sa.BigInteger(), nullable=False),
        sa.Column("rev", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("tip_percent BETWEEN 0 AND 100", name=op.f("ck_floor_settings_tip_percent")),
        _store_fk("floor_settings"),
        sa.PrimaryKeyConstraint("tenant_id", "store_id", name=op.f("pk_floor_settings")),
    )
    op.create_table(
        "floor_areas",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _store_fk("floor_areas"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_floor_areas")),
    )
    op.create_table(
        "floor_tables",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("area_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("seats", sa.BigInteger(), nullable=False),
        sa.Column("x", sa.BigInteger(), nullable=False),
        sa.Column("y", sa.BigInteger(), nullable=False),
        sa.Column("shape", sa.String(length=8), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "x BETWEEN 0 AND 100 AND y BETWEEN 0 AND 100", name=op.f("ck_floor_tables_position")
        ),
        sa.CheckConstraint("seats BETWEEN 1 AND 99", name=op.f("ck_floor_tables_seats")),
        sa.CheckConstraint("shape IN ('square', 'round')", name=op.f("ck_floor_tables_shape")),
        _store_fk("floor_tables"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "area_id"],
            ["floor_areas.tenant_id", "floor_areas.id"],
            name=op.f("fk_floor_tables_tenant_id_area_id_floor_areas"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_floor_tables")),
    )
    op.create_index(
        "ux_floor_tables_name",
        "floor_tables",
        ["tenant_id", "store_id", "name"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "product_modifiers",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("group_name", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("price_delta", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "product_id"],
            ["products.tenant_id", "products.id"],
            name=op.f("fk_product_modifiers_tenant_id_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_product_modifiers")),
    )
    op.create_index("ix_product_modifiers_product", "product_modifiers", ["tenant_id", "product_id"])
    op.create_table(
        "tabs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("table_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("guests", sa.BigInteger(), nullable=False),
        sa.Column("opened_by", sa.Uuid(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merged_into", sa.Uuid(), nullable=True),
        sa.Column("rev", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("status IN ('open', 'closed', 'merged')", name=op.f("ck_tabs_status")),
        sa.CheckConstraint("guests BETWEEN 1 AND 99", name=op.f("ck_tabs_guests")),
        _store_fk("tabs"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "table_id"],
            ["floor_tables.tenant_id", "floor_tables.id"],
            name=op.f("fk_tabs_tenant_id_table_id_floor_tables"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "merged_into"],
            ["tabs.tenant_id", "tabs.id"],
            name=op.f("fk_tabs_tenant_id_merged_into_tabs"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_tabs")),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_tabs_tenant_id_number")),
    )
    op.create_index(
        "ux_tabs_open_table",
        "tabs",
        ["tenant_id", "table_id"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index("ix_tabs_store_status", "tabs", ["tenant_id", "store_id", "status"])
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tip", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("tab_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_sales_tenant_id_tab_id_tabs"), "tabs", ["tenant_id", "tab_id"], ["tenant_id", "id"]
        )
        batch_op.create_check_constraint("tip", "tip >= 0")
        batch_op.create_index("ix_sales_tab", ["tenant_id", "tab_id"])
    with op.batch_alter_table("sales", schema=None) as batch_op:  # the default only filled existing rows
        batch_op.alter_column("tip", server_default=None)
    op.create_table(
        "tab_items",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("tab_id", sa.Uuid(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("modifiers", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("course", sa.BigInteger(), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("kitchen_order_id", sa.Uuid(), nullable=True),
        sa.Column("sale_id", sa.Uuid(), nullable=True),
        sa.Column("voided", sa.Boolean(), nullable=False),
        sa.Column("void_reason", sa.String(length=200), nullable=False),
        sa.Column("voided_by", sa.Uuid(), nullable=True),
        sa.Column("added_by", sa.Uuid(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_tab_items_quantity")),
        sa.CheckConstraint("unit_price >= 0", name=op.f("ck_tab_items_unit_price")),
        sa.CheckConstraint("course BETWEEN 1 AND 5", name=op.f("ck_tab_items_course")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "tab_id"],
            ["tabs.tenant_id", "tabs.id"],
            name=op.f("fk_tab_items_tenant_id_tab_id_tabs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "product_id"],
            ["products.tenant_id", "products.id"],
            name=op.f("fk_tab_items_tenant_id_product_id_products"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sale_id"],
            ["sales.tenant_id", "sales.id"],
            name=op.f("fk_tab_items_tenant_id_sale_id_sales"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "tab_id", "n", name=op.f("pk_tab_items")),
    )
    op.create_index("ix_tab_items_sale", "tab_items", ["tenant_id", "sale_id"])
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} FOR ALL USING ({TENANT_FILTER}) "
                f"WITH CHECK ({TENANT_FILTER})"
            )
            op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {table} TO {APP_ROLE}")


def downgrade() -> None:
    op.drop_index("ix_tab_items_sale", table_name="tab_items")
    op.drop_table("tab_items")
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_tab")
        batch_op.drop_constraint(batch_op.f("ck_sales_tip"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_sales_tenant_id_tab_id_tabs"), type_="foreignkey")
        batch_op.drop_column("tab_id")
        batch_op.drop_column("tip")
    op.drop_index("ix_tabs_store_status", table_name="tabs")
    op.drop_index(
        "ux_tabs_open_table",
        table_name="tabs",
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.drop_table("tabs")
    op.drop_index("ix_product_modifiers_product", table_name="product_modifiers")
    op.drop_table("product_modifiers")
    op.drop_index(
        "ux_floor_tables_name",
        table_name="floor_tables",
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.drop_table("floor_tables")
    op.drop_table("floor_areas")
    op.drop_table("floor_settings")
