"""In-store devices (scales, printers, drawers) reached through the device agent."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKeyConstraint, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from schema.models.base import Base, TenantScoped, new_id, utcnow

DEVICE_KINDS = ("scale", "printer", "drawer", "agent")


class Device(TenantScoped, Base):
    """A device. Pairing: the back office shows a one-time code (only its hash is kept, with an expiry);
    the agent trades it for a token ``shd_<tenant hex>_<secret>`` whose hash lands in ``token_hash``."""

    __tablename__ = "devices"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "store_id"], ["stores.tenant_id", "stores.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["tenant_id", "register_id"], ["registers.tenant_id", "registers.id"]),
        CheckConstraint("kind IN ('scale', 'printer', 'drawer', 'agent')", name="kind"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    store_id: Mapped[uuid.UUID]
    register_id: Mapped[uuid.UUID | None] = mapped_column(default=None)  # the till it serves, if bound
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(120))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    pairing_code_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    pairing_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    token_hash: Mapped[str | None] = mapped_column(String(64), default=None, unique=True)
    paired_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


PRINT_JOB_STATES = ("queued", "sent", "held", "printed", "failed")


class PrintJob(TenantScoped, Base):
    """One job for one printer: the ESC/POS bytes as the hub rendered them, and where the job is.

    queued (not yet handed to the agent) -> sent (the agent has it) -> printed; held while the printer
    cannot print (paper out, cover open: the agent keeps it and prints it when it can); failed when it
    can never print, or may have printed when the agent stopped (a person checks and reprints). The row
    outlives a hub restart, so the DeviceActor resumes every job that has not ended. A reprint is a new job
    with the same source.
    """

    __tablename__ = "print_jobs"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "device_id"], ["devices.tenant_id", "devices.id"], ondelete="CASCADE"
        ),
        CheckConstraint("state IN ('queued', 'sent', 'held', 'printed', 'failed')", name="state"),
        Index("ix_print_jobs_open", "tenant_id", "device_id", "state"),
        Index("ix_print_jobs_source", "tenant_id", "source_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    device_id: Mapped[uuid.UUID]
    register_id: Mapped[uuid.UUID | None] = mapped_column(default=None)  # the till that asked, if any
    kind: Mapped[str] = mapped_column(String(10))  # receipt, kitchen, zreport, test
    source_id: Mapped[uuid.UUID | None] = mapped_column(default=None)  # sale, ticket or cash session
    data: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(8), default="queued")
    reason: Mapped[str] = mapped_column(String(200), default="")
    attempts: Mapped[int] = mapped_column(default=0)
    reprint_of: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    printed_at: Mapped[datetime | None] = mapped_column(default=None)
