"""Print jobs rendered from the database: a sale's or credit note's receipt, a cash session's Z-report, a
restaurant tab's precuenta.

A Chilean boleta, factura or credit note carries the TED the fiscal pipeline stamped on the signed DTE
(never a second stamp made here: the paper must show exactly what SII receives). The pipeline signs within
a second of the sale (the sale wakes it), so a receipt waits up to ``TED_WAIT_SECONDS`` for it when the
tenant can sign at all; after that, or without a fiscal setup, it prints without the stamp and says the
electronic document follows. The paper width comes from the printer's settings (``paper_mm``: 80 or 58).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lxml import etree  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import select

from actors.cash import z_report_of
from actors.checkout import receipt_of
from actors.floor_views import read_tab
from devices.printing.documents import (
    Branding,
    Prebill,
    PrebillLine,
    Receipt,
    ReceiptBuyer,
    ReceiptLine,
    ReceiptTax,
    ReceiptTender,
)
from devices.printing.prebill import prebill_bytes
from devices.printing.receipt import receipt_bytes
from devices.printing.zreport import z_report_bytes
from fiscal.cl.ted import ted_bytes
from schema.errors import NotFoundError, ValidationError
from schema.messages.till import SaleReceipt
from schema.models import (
    FiscalCertificate,
    FiscalDocument,
    FiscalSetup,
    PrintJob,
    Product,
    Register,
    Sale,
    Store,
    Tenant,
    User,
)

if TYPE_CHECKING:
    from hub.services import Services

TED_WAIT_SECONDS = 5.0
TED_POLL_SECONDS = 0.2
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
_TAX_LABELS = {"cl_iva": "IVA", "cl_exento": "Exento"}


def columns_for(config: dict[str, Any]) -> int:
    """48 columns on 80 mm paper, 32 on 58 mm."""
    return 32 if config.get("paper_mm") == 58 or config.get("width") == 32 else 48


async def render_job(
    services: Services, tenant_id: uuid.UUID, job: PrintJob, config: dict[str, Any]
) -> bytes:
    if job.source_id is None:
        raise ValidationError(f"a {job.kind} job needs its source")
    columns = columns_for(config)
    match job.kind:
        case "receipt":
            receipt = await receipt_for(services, tenant_id, job.source_id)
            return receipt_bytes(receipt, columns=columns, reprint=job.reprint_of is not None)
        case "zreport":
            report = await z_report_of(services.db, tenant_id, job.source_id)
            async with services.db.tenant(tenant_id) as session:
                register = await session.get(Register, (tenant_id, report.register_id))
                tenant = await session.get(Tenant, tenant_id)
                store = None if register is None else await session.get(Store, (tenant_id, register.store_id))
                setup = await session.get(FiscalSetup, tenant_id)
            if tenant is None or store is None or register is None:
                raise NotFoundError("the cash session's register is gone")
            return z_report_bytes(
                report,
                _branding(tenant, store, setup),
                register.name,
                columns=columns,
                currency="USD" if tenant.currency == "USD" else "CLP",
            )
        case "prebill":
            return prebill_bytes(await prebill_for(services, tenant_id, job.source_id), columns=columns)
    raise ValidationError(f"the hub cannot render a {job.kind!r} job")


async def prebill_for(services: Services, tenant_id: uuid.UUID, tab_id: uuid.UUID) -> Prebill:
    """The tab's precuenta as it is now: what is left to pay (paid and voided items are not listed)."""
    async with services.db.tenant(tenant_id) as session:
        view = await read_tab(session, tab_id)
        tenant = await session.get(Tenant, tenant_id)
        store = await session.get(Store, (tenant_id, view.store_id))
        setup = await session.get(FiscalSetup, tenant_id)
        wanted = {item.product_id for item in view.items}
        units = dict(
            (await session.execute(select(Product.id, Product.unit).where(Product.id.in_(wanted))))
            .tuples()
            .all()
        )
    if tenant is None or store is None:
        raise NotFoundError("the tab's store is gone")
    chile = tenant.country == "CL"
    return Prebill(
        branding=_branding(tenant, store, setup),
        country="CL" if chile else "EC",
        currency="CLP" if chile else "USD",
        table=view.table_name,
        number=view.number,
        server=view.server,
        guests=view.guests,
        created_at=datetime.now(UTC).isoformat(),
        lines=[
            PrebillLine(
                name=item.name,
                quantity=item.quantity,
                unit="kg" if units.get(item.product_id) == "kg" else "unit",
                unit_price=item.unit_price,
                total=item.total,
                modifiers=[m.name for m in item.modifiers],
                note=item.note,
            )
            for item in view.items
            if not item.voided and not item.paid
        ],
        paid=view.paid_total,
        total=view.total,
        tip_percent=view.tip_percent,
        suggested_tip=view.suggested_tip,
    )


async def receipt_for(services: Services, tenant_id: uuid.UUID, sale_id: uuid.UUID) -> Receipt:
    db = services.db
    async with db.tenant(tenant_id) as session:
        sale = await session.get(Sale, (tenant_id, sale_id))
        if sale is None:
            raise NotFoundError("no such sale", sale_id=str(sale_id))
        sold = await receipt_of(session, sale)
        tenant = await session.get(Tenant, tenant_id)
        store = await session.get(Store, (tenant_id, sale.store_id))
        register = await session.get(Register, (tenant_id, sale.register_id))
        cashier = None if sale.user_id is None else await session.get(User, (tenant_id, sale.user_id))
        setup = await session.get(FiscalSetup, tenant_id)
        can_sign = (
            await session.execute(select(FiscalCertificate.id).where(FiscalCertificate.active).limit(1))
        ).first() is not None
        original = (
            None
            if sale.original_sale_id is None
            else await session.get(Sale, (tenant_id, sale.original_sale_id))
        )
    if tenant is None or store is None:
        raise NotFoundError("the sale's store is gone")
    chile = tenant.country == "CL"
    ted: bytes | None = None
    if chile and sale.folio is not None and setup is not None and can_sign:
        ted = await _wait_for_ted(services, tenant_id, sale_id)
    return Receipt(
        branding=_branding(tenant, store, setup),
        country="CL" if chile else "EC",
        currency="CLP" if chile else "USD",
        kind="return" if sale.kind == "return" else "sale",
        number=sale.number,
        register_name=register.name if register is not None else "",
        cashier=cashier.display_name if cashier is not None else "",
        created_at=sold.created_at,
        lines=[
            ReceiptLine(
                name=line.name,
                quantity=line.quantity,
                unit="kg" if line.unit == "kg" else "unit",
                unit_price=line.unit_price,
                discount_percent=line.discount_percent,
                total=line.total,
            )
            for line in sold.lines
        ],
        taxes=[
            ReceiptTax(
                label=_TAX_LABELS.get(t.tax_class, "IVA"), rate_percent=t.rate_percent, net=t.net, tax=t.tax
            )
            for t in sold.taxes
        ],
        total=sold.total,
        rounding=sold.rounding,
        to_pay=sold.to_pay,
        tenders=_tenders(sold),
        change=sold.change,
        doc_type=_doc_type(chile, sale),
        folio=sale.folio,
        ted=ted,
        sii_resolution=(
            f"Res. {setup.resolution_number} de {setup.resolution_date.year}" if chile and setup else ""
        ),
        buyer=_buyer(sale.buyer),
        reason=sale.reason,
        reference=_reference(original),
        tip=sale.tip,
    )


def _tenders(sold: SaleReceipt) -> list[ReceiptTender]:
    return [
        ReceiptTender(kind="cash" if t.kind == "cash" else "card", amount=t.amount, tendered=t.tendered)
        for t in sold.tenders
    ]


def _doc_type(chile: bool, sale: Sale) -> Any:
    if chile:
        return sale.doc_type
    return "04" if sale.kind == "return" else "01"


def _branding(tenant: Tenant, store: Store, setup: FiscalSetup | None) -> Branding:
    return Branding(
        store_name=tenant.name,
        legal_name=setup.razon_social if setup is not None else tenant.legal_name,
        tax_id=setup.rut if setup is not None else tenant.tax_id,
        activity=setup.giro if setup is not None else "",
        address=setup.address if setup is not None else store.address,
        city=setup.comuna if setup is not None else store.city,
        header_lines=[store.name],
        footer_lines=["¡Gracias por su compra!"],
        timezone=tenant.timezone,
    )


def _buyer(raw: dict[str, Any] | None) -> ReceiptBuyer | None:
    if not raw:
        return None
    return ReceiptBuyer(
        tax_id=str(raw.get("rut", "")),
        name=str(raw.get("razon_social", "")),
        activity=str(raw.get("giro", "")),
        address=str(raw.get("address", "")),
        city=str(raw.get("comuna", "")),
    )


def _reference(original: Sale | None) -> str:
    if original is None:
        return ""
    names = {39: "Boleta electrónica", 33: "Factura electrónica"}
    name = names.get(original.doc_type, "Documento")
    return f"{name} N° {original.folio}" if original.folio is not None else f"Venta N° {original.number}"


async def _wait_for_ted(services: Services, tenant_id: uuid.UUID, sale_id: uuid.UUID) -> bytes | None:
    deadline = time.monotonic() + TED_WAIT_SECONDS
    while True:
        async with services.db.tenant(tenant_id) as session:
            xml = (
                await session.execute(select(FiscalDocument.xml).where(FiscalDocument.sale_id == sale_id))
            ).scalar_one_or_none()
        if xml:
            return ted_of(xml)
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(TED_POLL_SECONDS)


def ted_of(dte: bytes) -> bytes | None:
    """The flat TED of a signed DTE, as its PDF417 must carry it."""
    root = etree.fromstring(dte, _PARSER)
    found = root.find(".//{*}Documento/{*}TED")
    return None if found is None else ted_bytes(found)
