"""Declarative base, the tenant mixin and column conventions shared by every table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, MetaData, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from schema.ids import uuid7

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Money in minor units and quantities in thousandths can exceed 32 bits; SQLite needs plain INTEGER.
Int64 = BigInteger().with_variant(BigInteger(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True), uuid.UUID: Uuid(), int: BigInteger()}


class TenantScoped:
    """Mixin for every tenant table: ``tenant_id`` is the first column of the primary key.

    On Postgres, Row-Level Security restricts every row to the transaction's tenant setting; on every
    backend the session factory also adds a ``tenant_id`` criterion to ORM queries (see ``hub.db``).
    """

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, sort_order=-100)


def new_id() -> uuid.UUID:
    return uuid7()
