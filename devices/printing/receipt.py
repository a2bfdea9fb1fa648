"""A sale's or return's receipt as ESC/POS bytes: Chile's boleta, factura and nota de crédito, Ecuador's
factura and nota de crédito, or a plain sales voucher while the tax document waits for its folio.

Chile's printed tax documents carry the TED as a PDF417 under the totals, with SII's legend ("Timbre
Electrónico SII", the resolution, "Verifique documento: www.sii.cl"); the issuer's RUT, the document's name
and its folio go in a framed box. Ecuador's receipt shows the 49-digit clave de acceso, whose digits also say
the environment (pruebas, producción), the series and the sequential number.

The drawer opens (ESC p) only when cash changes hands, so a card-only sale never pops it.
"""

from __future__ import annotations

from PIL import Image

from devices.printing.documents import Branding, Receipt, ReceiptLine
from devices.printing.layout import (
    Paper,
    box,
    decimal_mark,
    format_datetime,
    format_money,
    format_quantity,
    format_signed_money,
    split_evenly,
    zone,
)
from fiscal.cl.pdf417 import ted_barcode
from fiscal.cl.rut import format_rut
from schema.errors import ValidationError

TED_MODULE_PX = 2  # 0.25 mm modules on a 203 dpi printer, SII's size for the stamp (fiscal/cl/pdf417.py)
_MAX_PDF417_COLUMNS = 30

_TITLES: dict[int | str, str] = {
    39: "BOLETA ELECTRÓNICA",
    33: "FACTURA ELECTRÓNICA",
    61: "NOTA DE CRÉDITO ELECTRÓNICA",
    "01": "FACTURA",
    "04": "NOTA DE CRÉDITO",
}
_TENDERS = {"cash": "Efectivo", "card": "Tarjeta"}
_REFUNDS = {"cash": "Devolución en efectivo", "card": "Devolución a tarjeta"}
_EC_ENVIRONMENTS = {"1": "PRUEBAS", "2": "PRODUCCIÓN"}


def receipt_bytes(r: Receipt, *, columns: int = 48, reprint: bool = False) -> bytes:
    """The receipt ready for the printer: header, document, lines, totals, payment, stamp, footer, cut."""
    paper = Paper(columns)
    if reprint:
        paper.text("REIMPRESIÓN", align="center", bold=True, wide=True, tall=True)
        paper.text("COPIA", align="center", bold=True)
        paper.feed()
    chile_box = r.country == "CL" and r.folio is not None
    _header(paper, r.branding, r.country, tax_id=not chile_box)
    _title(paper, r, chile_box)
    _details(paper, r)
    _lines(paper, r)
    _totals(paper, r)
    _payment(paper, r)
    _stamp(paper, r)
    if r.branding.footer_lines:
        paper.feed()
        for text in r.branding.footer_lines:
            paper.text(text, align="center")
    if any(tender.kind == "cash" for tender in r.tenders):
        paper.kick_drawer()
    paper.cut()
    return paper.output


def printable_tax_id(tax_id: str, country: str) -> str:
    """A Chilean RUT with its dots (``76.086.428-5``); anything else as given."""
    if country == "CL":
        try:
            return format_rut(tax_id)
        except (ValidationError, ValueError):
            return tax_id
    return tax_id


def _header(paper: Paper, branding: Branding, country: str, *, tax_id: bool = True) -> None:
    if branding.logo_png:
        paper.logo(branding.logo_png)
    paper.text(branding.store_name, align="center", bold=True, wide=True, tall=True)
    if branding.legal_name and branding.legal_name != branding.store_name:
        paper.text(branding.legal_name, align="center")
    if tax_id and branding.tax_id:
        label = "RUT" if country == "CL" else "RUC"
        paper.text(f"{label}: {printable_tax_id(branding.tax_id, country)}", align="center")
    for text in (branding.activity, branding.address, branding.city):
        if text:
            paper.text(text, align="center")
    if branding.phone:
        paper.text(f"Tel.: {branding.phone}", align="center")
    for text in branding.header_lines:
        paper.text(text, align="center")
    paper.feed()


def _title(paper: Paper, r: Receipt, chile_box: bool) -> None:
    title = _TITLES[r.doc_type]
    if chile_box:
        number = f"N° {r.folio}"
        one_line = f"{title} {number}"
        inner = [one_line] if len(one_line) <= paper.columns - 4 else [title, number]
        rut = printable_tax_id(r.branding.tax_id, "CL")
        paper.lines(box([f"R.U.T.: {rut}", *inner], paper.columns), align="left", bold=True)
        if r.branding.sii_office:
            paper.text(r.branding.sii_office, align="center")
    elif r.country == "EC" and r.clave_acceso is not None:
        clave = r.clave_acceso
        paper.text(title, align="center", bold=True, wide=True, tall=True)
        paper.text(f"No. {clave[24:27]}-{clave[27:30]}-{clave[30:39]}", align="center", bold=True)
    else:
        # No folio (Chile) or no clave de acceso (Ecuador) yet: a voucher, and it must say it is not the
        # tax document, which the hub issues when it can.
        voucher = "Comprobante de devolución" if r.kind == "return" else "Comprobante de venta"
        paper.text(f"{voucher} N° {r.number}", align="center", bold=True)
        paper.text(f"{title.capitalize()} pendiente de emisión", align="center")
    paper.feed()


def _details(paper: Paper, r: Receipt) -> None:
    when = format_datetime(r.created_at, zone(r.branding.timezone, r.country))
    paper.text(f"Fecha: {when}")
    if r.folio is not None or r.clave_acceso is not None:
        paper.text(f"{'Devolución' if r.kind == 'return' else 'Venta'} N° {r.number}")
    if r.register_name:
        paper.text(f"Caja: {r.register_name}")
    if r.cashier:
        paper.text(f"Cajero: {r.cashier}")
    buyer = r.buyer
    if buyer is not None:
        id_label = "RUT" if r.country == "CL" else "RUC/CI"
        paper.text(f"Señor(es): {buyer.name}")
        paper.text(f"{id_label}: {printable_tax_id(buyer.tax_id, r.country)}")
        city = "Comuna" if r.country == "CL" else "Ciudad"
        for label, value in (("Giro", buyer.activity), ("Dirección", buyer.address), (city, buyer.city)):
            if value:
                paper.text(f"{label}: {value}")
    elif r.country == "EC":
        paper.text("Cliente: CONSUMIDOR FINAL")
    if r.reference:
        paper.text(f"Referencia: {r.reference}")
    if r.reason:
        paper.text(f"Motivo: {r.reason}")


def _lines(paper: Paper, r: Receipt) -> None:
    paper.rule()
    for line in r.lines:
        _line(paper, line, r.currency)
    paper.rule()


def _line(paper: Paper, line: ReceiptLine, currency: str) -> None:
    total = format_money(abs(line.total), currency)
    quantity = abs(line.quantity)
    if line.unit == "unit" and quantity == 1000 and not line.discount_percent:
        paper.pair(line.name, total)
        return
    paper.text(line.name)
    per = "/kg" if line.unit == "kg" else ""
    detail = (
        f"  {format_quantity(quantity, line.unit, decimal_mark(currency))}"
        f" x {format_money(abs(line.unit_price), currency)}{per}"
    )
    if line.discount_percent:
        detail += f" -{line.discount_percent}%"
    paper.pair(detail, total)


def _totals(paper: Paper, r: Receipt) -> None:
    money = r.currency
    taxed = [tax for tax in r.taxes if tax.rate_percent > 0]
    exempt = sum(abs(tax.net) for tax in r.taxes if tax.rate_percent == 0)
    if r.country == "EC":
        for tax in r.taxes:
            paper.pair(f"Subtotal {tax.label} {tax.rate_percent}%", format_money(abs(tax.net), money))
        for tax in taxed:
            paper.pair(f"{tax.label} {tax.rate_percent}%", format_money(abs(tax.tax), money))
    elif r.doc_type != 39:
        # Factura and nota de crédito show the net and the tax; a boleta's prices include IVA.
        paper.pair("Neto", format_money(sum(abs(tax.net) for tax in taxed), money))
        if exempt:
            paper.pair("Exento", format_money(exempt, money))
        for tax in taxed:
            paper.pair(f"{tax.label} {tax.rate_percent}%", format_money(abs(tax.tax), money))
    paper.pair("TOTAL", format_money(abs(r.total), money), bold=True, wide=True, tall=True)
    if r.rounding:
        # A credit note's amounts are negated but printed as magnitudes: its adjustment must read the same.
        adjustment = abs(r.to_pay) - abs(r.total) if r.kind == "return" else r.rounding
        paper.pair("Redondeo Ley 20.956", format_signed_money(adjustment, money))
        label = "TOTAL A DEVOLVER" if r.kind == "return" else "TOTAL A PAGAR"
        paper.pair(label, format_money(abs(r.to_pay), money), bold=True)
    if r.country == "CL" and r.doc_type == 39 and taxed:
        iva = format_money(sum(abs(tax.tax) for tax in taxed), money)
        paper.text(f"El IVA de esta boleta es {iva}")
    if r.tip:
        # The propina is voluntary and outside the document: shown apart, after the tax lines.
        paper.pair("Propina", format_money(r.tip, money))
        paper.pair("TOTAL CON PROPINA", format_money(abs(r.to_pay) + r.tip, money), bold=True)


def _payment(paper: Paper, r: Receipt) -> None:
    if not r.tenders:
        return
    paper.feed()
    names = _REFUNDS if r.kind == "return" else _TENDERS
    for tender in r.tenders:
        handed = tender.amount if tender.tendered is None else tender.tendered
        shown = tender.amount if r.kind == "return" else handed
        paper.pair(names[tender.kind], format_money(abs(shown), r.currency))
    if r.kind == "sale" and any(tender.kind == "cash" for tender in r.tenders):
        paper.pair("Vuelto", format_money(r.change, r.currency), bold=True)


def _stamp(paper: Paper, r: Receipt) -> None:
    if r.country == "CL" and r.folio is not None:
        paper.feed()
        if r.ted is None:
            paper.text("Timbre Electrónico SII pendiente", align="center")
            return
        paper.image(ted_image(r.ted, paper.dots))
        paper.text("Timbre Electrónico SII", align="center")
        if r.sii_resolution:
            paper.text(r.sii_resolution, align="center")
        paper.text("Verifique documento: www.sii.cl", align="center")
    elif r.country == "EC" and r.clave_acceso is not None:
        clave = r.clave_acceso
        paper.feed()
        paper.text("Clave de acceso:", bold=True)
        paper.lines(split_evenly(clave, paper.columns))
        paper.text(f"Ambiente: {_EC_ENVIRONMENTS.get(clave[23], clave[23])}")
        paper.text(f"Emisión: {'NORMAL' if clave[47] == '1' else clave[47]}")


def ted_image(ted: bytes, dots: int) -> Image.Image:
    """The TED's PDF417 at 2 dots a module, as wide as fits ``dots``, turned sideways when it must be.

    Upright, the most data columns that fit (fewest rows, least paper): 12 on 80 mm (562 of 576 dots).
    58 mm paper fits only 6 columns (358 dots) and a real TED (about 780 bytes) needs more than the 90 rows
    PDF417 allows at 6: the symbol is then printed turned 90 degrees, with the fewest columns whose height
    fits across the paper (12 on 384 dots: 376 dots), so the modules keep their 0.25 mm. Readers decode
    a PDF417 in any orientation.
    """
    upright = _pdf417_width(dots)
    for columns in range(min(upright, _MAX_PDF417_COLUMNS), 0, -1):
        try:
            return ted_barcode(ted, columns=columns, module_px=TED_MODULE_PX)
        except ValueError:
            continue  # fewer than 3 rows (a tiny TED): fewer columns make more rows
    for columns in range(upright + 1, _MAX_PDF417_COLUMNS + 1):
        try:
            image = ted_barcode(ted, columns=columns, module_px=TED_MODULE_PX)
        except ValueError:
            continue
        if image.height <= dots:
            return image.transpose(Image.Transpose.ROTATE_90)
    raise ValueError(f"a TED of {len(ted)} bytes does not fit as a PDF417 on paper {dots} dots wide")


def _pdf417_width(dots: int) -> int:
    """The most data columns whose symbol fits ``dots``: start, left and right indicators and stop take
    69 modules, each data column 17, and the quiet zone 4 on each side (fiscal/cl/pdf417.py)."""
    return (dots // TED_MODULE_PX - 69 - 8) // 17
