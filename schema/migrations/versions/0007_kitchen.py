"""The kitchen: routing rules, station settings, tickets and their items.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28

Four tenant tables; on PostgreSQL each gets the same forced Row-Level Security, policy and grants as in
0001_foundation (whose docstring explains them). A station's KitchenActor reloads its open tickets through
``ix_kitchen_tickets_open``; recall and the dashboards' served times go through ``ix_kitchen_tickets_served``.
``uq_kitchen_tickets_tenant_id_order_id_station_id`` makes a resent order find its tickets instead of
cooking twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "storehub_app"
TENANT_FILTER = "tenant_id = NULLIF(current_setting('storehub.tenant_id', true), '')::uuid"
TABLES = ("kitchen_routes", "kitchen_settings", "kitchen_tickets", "kitchen_items")
STATE_CHECK = "state IN ('new', 'in_progress', 'ready', 'served')"


def _station_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "station_id"],
        ["kitchen_stations.tenant_id", "kitchen_stations.id"],
        name=op.f(f"fk_{table}_tenant_id_station_id_kitchen_stations"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "kitchen_routes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "store_id"],
            ["stores.tenant_id", "stores.id"],
            name=op.f("fk_kitchen_routes_tenant_id_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "category_id"],
            ["categories.tenant_id", "categories.id"],
            name=op.f("fk_kitchen_routes_tenant_id_category_id_categories"),
            ondelete="CASCADE",
        ),
        _station_fk("kitchen_routes"),
        sa.PrimaryKeyConstraint("tenant_id", "store_id", "category_id", name=op.f("pk_kitchen_routes")),
    )
    op.create_table(
        "kitchen_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", sa.Uuid(), nullable=False),
        sa.Column("warn_after_s", sa.BigInteger(), nullable=False),
        sa.Column("late_after_s", sa.BigInteger(), nullable=False),
        sa.Column("rev", sa.BigInteger(), nullable=False),
        sa.Column("settings_rev", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "warn_after_s > 0 AND late_after_s > warn_after_s", name=op.f("ck_kitchen_settings_thresholds")
        ),
        _station_fk("kitchen_settings"),
        sa.PrimaryKeyConstraint("tenant_id", "station_id", name=op.f("pk_kitchen_settings")),
    )
    op.create_table(
        "kitchen_tickets",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("station_id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("table_label", sa.String(length=20), nullable=False),
        sa.Column("server", sa.String(length=60), nullable=False),
        sa.Column("course", sa.String(length=30), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("rev", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("served_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(STATE_CHECK, name=op.f("ck_kitchen_tickets_state")),
        _station_fk("kitchen_tickets"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_kitchen_tickets")),
        sa.UniqueConstraint(
            "tenant_id",
            "order_id",
            "station_id",
            name=op.f("uq_kitchen_tickets_tenant_id_order_id_station_id"),
        ),
    )
    op.create_index("ix_kitchen_tickets_open", "kitchen_tickets", ["tenant_id", "station_id", "state"])
    op.create_index("ix_kitchen_tickets_served", "kitchen_tickets", ["tenant_id", "station_id", "served_at"])
    op.create_table(
        "kitchen_items",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("line_no", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("modifiers", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.CheckConstraint(STATE_CHECK, name=op.f("ck_kitchen_items_state")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "ticket_id"],
            ["kitchen_tickets.tenant_id", "kitchen_tickets.id"],
            name=op.f("fk_kitchen_items_tenant_id_ticket_id_kitchen_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "product_id"],
            ["products.tenant_id", "products.id"],
            name=op.f("fk_kitchen_items_tenant_id_product_id_products"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "ticket_id", "line_no", name=op.f("pk_kitchen_items")),
    )
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
    op.drop_table("kitchen_items")
    op.drop_index("ix_kitchen_tickets_served", table_name="kitchen_tickets")
    op.drop_index("ix_kitchen_tickets_open", table_name="kitchen_tickets")
    op.drop_table("kitchen_tickets")
    op.drop_table("kitchen_settings")
    op.drop_table("kitchen_routes")
