"""Print jobs: each printer's queue, persisted so that a hub restart loses no job.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21

``print_jobs`` is a tenant table: on PostgreSQL it gets the same forced Row-Level Security, policy and grants
as in 0001_foundation (whose docstring explains them). The DeviceActor of a printer reloads the jobs that
have not ended (queued, sent, held) when it starts, through ``ix_print_jobs_open``; a sale's receipts and
reprints are found through ``ix_print_jobs_source``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "storehub_app"
TENANT_FILTER = "tenant_id = NULLIF(current_setting('storehub.tenant_id', true), '')::uuid"


def upgrade() -> None:
    op.create_table(
        "print_jobs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("register_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.Column("reprint_of", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("printed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('queued', 'sent', 'held', 'printed', 'failed')", name=op.f("ck_print_jobs_state")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "device_id"],
            ["devices.tenant_id", "devices.id"],
            name=op.f("fk_print_jobs_tenant_id_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_print_jobs")),
    )
    op.create_index("ix_print_jobs_open", "print_jobs", ["tenant_id", "device_id", "state"])
    op.create_index("ix_print_jobs_source", "print_jobs", ["tenant_id", "source_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE print_jobs ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE print_jobs FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON print_jobs FOR ALL USING ({TENANT_FILTER}) "
            f"WITH CHECK ({TENANT_FILTER})"
        )
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE print_jobs TO {APP_ROLE}")


def downgrade() -> None:
    op.drop_index("ix_print_jobs_source", table_name="print_jobs")
    op.drop_index("ix_print_jobs_open", table_name="print_jobs")
    op.drop_table("print_jobs")
