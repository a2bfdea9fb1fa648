"""``storehub fiscal sample``: a signed envelope made with a tenant's own certificate and CAF, for anyone
checking their setup (or SII's certification steps) without selling anything.

The sample takes the LAST folio of the newest CAF of its type, so it does not take the folio the next sale
would get; it is written to a file and never sent. A 61 corrects a boleta (folio 1 of today).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from lxml import etree  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import select

from fiscal.certificates import rut_of
from fiscal.cl.dte import Receiver, build_document
from fiscal.cl.envelope import build_envio_boleta, build_envio_dte
from fiscal.cl.sale_document import Referenced, SoldLine, document_input, emitter_of
from fiscal.cl.setup import caf_in, signer_in
from hub.db import Database
from schema.errors import NotFoundError
from schema.models import CafFile, FiscalSetup, Tenant

LINES = [
    SoldLine(
        name="Leche entera 1 L", unit="unit", quantity=2000, unit_price=1090, total=2180, tax_class="cl_iva"
    ),
    SoldLine(name="Pan amasado", unit="kg", quantity=455, unit_price=2790, total=1269, tax_class="cl_iva"),
]
BUYER = Receiver(
    rut="76086428-5", razon_social="Comercial Los Andes SpA", giro="Almacén", address="Av. Grecia 1234",
    comuna="Ñuñoa", city="Santiago",
)  # fmt: skip


async def sample_envelope(db: Database, key: bytes, tenant_slug: str, doc_type: int) -> tuple[bytes, int]:
    """The signed envelope (EnvioBOLETA for a 39, EnvioDTE otherwise) and the folio it used."""
    tenant_id = await db.tenant_id_by_slug(tenant_slug)
    if tenant_id is None:
        raise NotFoundError(f"no tenant {tenant_slug!r} (the demo's is made by `storehub seed-demo`)")
    async with db.tenant(tenant_id) as session:
        tenant = (await session.execute(select(Tenant))).scalar_one()
        setup = (await session.execute(select(FiscalSetup))).scalar_one_or_none()
        if setup is None:
            raise NotFoundError(f"{tenant_slug} has no fiscal setup")
        newest = (
            await session.execute(
                select(CafFile)
                .where(CafFile.doc_type == doc_type)
                .order_by(CafFile.first_folio.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if newest is None:
            raise NotFoundError(f"{tenant_slug} has no CAF for document type {doc_type}")
        signer = await signer_in(session, tenant_id, key)
        caf = await caf_in(session, tenant_id, doc_type, newest.last_folio, key)
    now = datetime.now(ZoneInfo(tenant.timezone))
    referenced = None
    if doc_type == 61:
        referenced = Referenced(doc_type=39, folio=1, issued=now.date(), total=5000, whole=False)
    doc = document_input(
        doc_type=doc_type, folio=caf.last, issued=now.date(), emitter=emitter_of(setup), lines=LINES,
        receiver=BUYER if doc_type == 33 else None, referenced=referenced, reason="Muestra: corrige montos",
    )  # fmt: skip
    dte = build_document(doc, caf, signer, now)
    build = build_envio_boleta if doc_type == 39 else build_envio_dte
    envelope = build(
        [etree.tostring(dte)], setup.rut, rut_of(signer.certificate), setup.resolution_date,
        setup.resolution_number, signer, now,
    )  # fmt: skip
    return envelope, caf.last
