"""The transactional outbox: events written in the same transaction as the change they describe."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from schema.models.base import Base, TenantScoped, new_id, utcnow


class OutboxEvent(TenantScoped, Base):
    """One event to publish after commit. ``id`` is a UUIDv7, so id order is write order per process."""

    __tablename__ = "outbox"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        Index("ix_outbox_unpublished", "published_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    stream: Mapped[str] = mapped_column(String(80))  # e.g. "tenant", "register:<uuid>"
    event: Mapped[str] = mapped_column(String(60))  # past tense: "PriceChanged"
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
