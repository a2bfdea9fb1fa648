"""Fiscal setup and the pipeline's persisted state: the taxpayer's data, certificate and CAF files, and the
envelopes sent to the tax authority (documents themselves are ``fiscal_documents``, in ``sales``).

Secrets are stored sealed (``fiscal.certificates.encrypt_at_rest``, AES-256-GCM with a key derived from
``STOREHUB_SECRET_KEY`` and the tenant id as associated data): the .pfx and its password, and each CAF file,
which carries the private key that stamps documents.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from schema.models.base import Base, TenantScoped, new_id, utcnow


class FiscalSetup(TenantScoped, Base):
    """Who issues the tenant's documents (one row per tenant): the data printed on every DTE."""

    __tablename__ = "fiscal_setups"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),)

    rut: Mapped[str] = mapped_column(String(12))  # the company's, normalised, e.g. 76354771-K
    # The person SII authorised to send the company's documents (RutEnvia); their certificate signs.
    sender_rut: Mapped[str] = mapped_column(String(12))
    razon_social: Mapped[str] = mapped_column(String(100))
    giro: Mapped[str] = mapped_column(String(80))
    acteco: Mapped[list[int]] = mapped_column(JSON)  # 1..4 economic activity codes
    address: Mapped[str] = mapped_column(String(70))
    comuna: Mapped[str] = mapped_column(String(20))
    city: Mapped[str] = mapped_column(String(20), default="")
    branch_code: Mapped[int | None] = mapped_column(default=None)  # CdgSIISucur
    email: Mapped[str] = mapped_column(String(80), default="")
    resolution_number: Mapped[int] = mapped_column(default=0)  # NroResol (0 in certification)
    resolution_date: Mapped[date]  # FchResol
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FiscalCertificate(TenantScoped, Base):
    """The taxpayer's signing certificate (.pfx), sealed; the newest active one signs."""

    __tablename__ = "fiscal_certificates"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    rut: Mapped[str] = mapped_column(String(12))  # the holder's RUT, read from the certificate
    holder: Mapped[str] = mapped_column(String(200))
    not_after: Mapped[datetime]
    sealed_pfx: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_password: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(default=True)
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class CafFile(TenantScoped, Base):
    """A CAF (folio authorization) as uploaded, sealed, with the folio range it opened."""

    __tablename__ = "caf_files"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(
            ["tenant_id", "folio_range_id"], ["folio_ranges.tenant_id", "folio_ranges.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("tenant_id", "doc_type", "first_folio"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    doc_type: Mapped[int]
    first_folio: Mapped[int]
    last_folio: Mapped[int]
    authorized: Mapped[date]
    expires: Mapped[date | None] = mapped_column(default=None)
    idk: Mapped[int]
    sealed_xml: Mapped[bytes] = mapped_column(LargeBinary)
    folio_range_id: Mapped[uuid.UUID]
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class FiscalEnvelope(TenantScoped, Base):
    """One submission to the authority: built once, its bytes kept and resent as they are on retries."""

    __tablename__ = "fiscal_envelopes"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        CheckConstraint("kind IN ('boleta', 'dte')", name="kind"),
        Index("ix_fiscal_envelopes_due", "tenant_id", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(8))
    documents: Mapped[int]
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of xml
    status: Mapped[str] = mapped_column(String(24), default="built")  # built, sent, done, rejected
    track_id: Mapped[str | None] = mapped_column(String(40), default=None)
    authority_state: Mapped[str] = mapped_column(String(8), default="")  # e.g. EPR, RCH
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(String(400), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
