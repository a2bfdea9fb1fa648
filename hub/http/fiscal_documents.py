"""``/api/v1/fiscal/documents``: every sale's tax document, its state at the authority, its signed XML and
its printable PDF (80 mm receipt or letter page).

Managers and owners list documents and download the XML; anyone who sells may print the PDF (a reprint at
the till). A cashier bound to a store sees only that store's documents.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Annotated, Literal

from litestar import Controller, Response, get
from litestar.params import FromPath, FromQuery, QueryParameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.principal import Principal
from hub.http.common import Limit, Offset, Out, PrincipalDep, ServicesDep, tenant_session, utc_required
from schema.errors import ConflictError, NotFoundError
from schema.models import FiscalDocument, FiscalSetup, Role, Sale

Status = Annotated[
    Literal["pending", "signed", "sent", "accepted", "accepted_with_objections", "rejected"] | None,
    QueryParameter(),
]


class DocumentOut(Out, frozen=True):
    id: uuid.UUID
    sale_id: uuid.UUID
    doc_type: int
    folio: int | None
    status: str
    reason: str  # what it waits for, or the authority's words on a rejection
    authority_state: str  # e.g. DOK, RCH, EPR
    created_at: datetime
    updated_at: datetime


def document_out(row: FiscalDocument) -> DocumentOut:
    return DocumentOut(
        id=row.id, sale_id=row.sale_id, doc_type=row.doc_type, folio=row.folio, status=row.status,
        reason=row.reason, authority_state=row.authority_state, created_at=utc_required(row.created_at),
        updated_at=utc_required(row.updated_at),
    )  # fmt: skip


class FiscalDocumentController(Controller):
    path = "/fiscal/documents"
    tags = ["fiscal"]

    @get("/", summary="Tax documents, newest first; filter by status or sale")
    async def list_documents(
        self,
        principal: PrincipalDep,
        services: ServicesDep,
        status: Status = None,
        sale_id: Annotated[uuid.UUID | None, QueryParameter()] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> list[DocumentOut]:
        principal.require(Role.MANAGER)
        query = select(FiscalDocument).join(
            Sale, (Sale.id == FiscalDocument.sale_id) & (Sale.tenant_id == FiscalDocument.tenant_id)
        )
        if principal.store_id is not None:
            query = query.where(Sale.store_id == principal.store_id)
        if status is not None:
            query = query.where(FiscalDocument.status == status)
        if sale_id is not None:
            query = query.where(FiscalDocument.sale_id == sale_id)
        query = query.order_by(FiscalDocument.created_at.desc()).limit(limit).offset(offset)
        async with tenant_session(services, principal) as session:
            return [document_out(row) for row in (await session.execute(query)).scalars()]

    @get("/{document_id:uuid}", summary="One tax document and its state")
    async def get_document(
        self, document_id: FromPath[uuid.UUID], principal: PrincipalDep, services: ServicesDep
    ) -> DocumentOut:
        principal.require(Role.MANAGER)
        async with tenant_session(services, principal) as session:
            return document_out(await _document(session, principal, document_id))

    @get("/{document_id:uuid}/xml", summary="The signed DTE as sent to the authority")
    async def get_xml(
        self, document_id: FromPath[uuid.UUID], principal: PrincipalDep, services: ServicesDep
    ) -> Response[bytes]:
        principal.require(Role.MANAGER)
        async with tenant_session(services, principal) as session:
            document = await _document(session, principal, document_id)
        xml = _signed(document)
        name = f"DTE-{document.doc_type}-{document.folio}.xml"
        return Response(xml, media_type="application/xml", headers=_attachment(name))

    @get("/{document_id:uuid}/pdf", summary="The printable document: 80 mm receipt or letter page")
    async def get_pdf(
        self,
        document_id: FromPath[uuid.UUID],
        principal: PrincipalDep,
        services: ServicesDep,
        layout: FromQuery[Literal["thermal80", "letter"]] = "thermal80",
    ) -> Response[bytes]:
        principal.require(Role.CASHIER)
        async with tenant_session(services, principal) as session:
            document = await _document(session, principal, document_id)
            setup = (await session.execute(select(FiscalSetup))).scalar_one_or_none()
        xml = _signed(document)
        if setup is None:
            raise ConflictError("the fiscal setup is missing: its resolution is printed on every document")
        from fiscal.cl.pdf import render_pdf  # weasyprint is large: loaded with the first PDF, not at start

        pdf = await asyncio.to_thread(
            render_pdf, xml, layout=layout, resolution_number=setup.resolution_number,
            resolution_date=setup.resolution_date,
        )  # fmt: skip
        name = f"DTE-{document.doc_type}-{document.folio}-{layout}.pdf"
        return Response(pdf, media_type="application/pdf", headers=_attachment(name))


async def _document(session: AsyncSession, principal: Principal, document_id: uuid.UUID) -> FiscalDocument:
    row = (
        await session.execute(
            select(FiscalDocument, Sale.store_id)
            .join(Sale, (Sale.id == FiscalDocument.sale_id) & (Sale.tenant_id == FiscalDocument.tenant_id))
            .where(FiscalDocument.id == document_id)
        )
    ).one_or_none()
    if row is None or not principal.can_access_store(row[1]):
        raise NotFoundError("document not found", id=str(document_id))
    document: FiscalDocument = row[0]
    return document


def _signed(document: FiscalDocument) -> bytes:
    if document.xml is None:
        raise ConflictError(
            f"document not signed yet ({document.status}{': ' + document.reason if document.reason else ''})"
        )
    return document.xml


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


ROUTES = [FiscalDocumentController]
