"""The printed representation of a DTE (boleta 39, factura 33, nota de crédito 61, and any other type a
supplier sends): a PDF for an 80 mm receipt printer or a letter page, made with WeasyPrint.

Everything printed is read from the DTE's XML (Emisor, Receptor, IdDoc, Detalle, DscRcgGlobal, Totales,
Referencia, TED), so our documents and suppliers' render alike; namespaced or not (SII's own samples lost
their ``xmlns``). What is printed, and why:

* The red-framed box, top right on a letter page and at the top of a receipt: ``R.U.T.: 76.354.771-K``, the
  document's name (formato-dtes-v2.2 §2.2 marks TipoDTE "P": printed as its name, "FACTURA ELECTRÓNICA"),
  ``N° <folio>``; under it ``S.I.I. - <unidad>``, the SII office of the emitter. The DTE does not say which
  office that is: pass ``sii_office`` (e.g. "SANTIAGO ORIENTE"); without it the emitter's comuna is printed,
  as LibreDTE does when it does not know the office.
* The fields formato-dtes-v2.2 marks "I" (printed): emitter (razón social, giro, address, comuna, city),
  date, receiver (RUT, razón social, giro, address, comuna) on every document that names one, payment
  terms, lines (quantity, unit, unit price, discount, amount, exempt mark), totals (neto, exento, IVA with
  its rate, total; a boleta shows its total and the IVA it includes), references (type by name, folio,
  date, what the reference does, reason).
* The TED as a PDF417 barcode (:mod:`fiscal.cl.pdf417`: error-correction level 5, byte compaction, the
  exact flat ISO-8859-1 TED of the document) with "Timbre Electrónico SII", "Res. <n> de <year>" and
  "Verifique documento: www.sii.cl" under it, as SII's printed samples and every provider do. SII's FAQ
  001.380.6277.006 asks for a stamp of at least 2 x 4.5 cm generated above 200 dpi: modules are 0.254 mm (3
  dots at 300 dpi, 2 on a 203 dpi thermal head). On a letter page the symbol has 16 columns (about 8.9 x
  3.5 cm for a typical TED) and is scaled up if it ever came out under 4.5 x 2 cm; on 80 mm paper it has 12
  columns, 281 modules with its quiet zone, 71.4 mm: it fits the 74 mm between the 3 mm margins without
  scaling, and fewer columns (taller) would be chosen for a narrower page rather than thinner modules.
* Money as ``$ 1.234`` (CLP has no decimals; a unit price with decimals keeps them, ``$ 1.672,5``),
  quantities with the decimals the document gives them (``1,25`` kg), dates in Spanish.

Receipt height. WeasyPrint lays out fixed-size pages, and a receipt is as long as its content. The 80 mm
document is laid out once on a page 80 x 5000 mm (the longest page PDF viewers accept is 5080 mm), then the
page is cut just below the last element: an empty element ``#end`` closes the receipt, WeasyPrint reports
its position (``Page.anchors``) and the page's height is set to that plus the bottom margin before the PDF
is written. One layout pass, exact height, no guessing from line counts. A receipt longer than 5 m (a
boleta's 1000 lines) continues on a second page.

No network, no files: ``base_url`` is None, the barcode, the logo and the stylesheet are inline, and the URL
fetcher refuses anything that is not a ``data:`` URL.
"""

from __future__ import annotations

import base64
import functools
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import jinja2
import weasyprint
from lxml import etree  # type: ignore[import-untyped, unused-ignore]
from weasyprint.urls import URLFetcher, URLFetcherResponse

from fiscal.cl.caf import DOC_TYPE_NAMES, plain_copy
from fiscal.cl.pdf417 import QUIET_ZONE, ted_barcode
from fiscal.cl.rut import format_rut
from fiscal.cl.ted import ted_bytes
from fiscal.errors import FiscalError
from schema.errors import ValidationError

Layout = Literal["thermal80", "letter"]

TEMPLATES = Path(__file__).with_name("templates")
MODULE_MM = 0.254  # one PDF417 module: 3 dots at 300 dpi, 2 at a thermal printer's 203 dpi
MIN_STAMP_MM = (45.0, 20.0)  # SII's FAQ 001.380.6277.006: at least 4.5 cm wide, 2 cm high
THERMAL_WIDTH_MM = 80.0
THERMAL_MARGIN_MM = 3.0
THERMAL_PAGE_MM = 5000.0
LETTER_COLUMNS = 16
_CSS_PX_PER_MM = 96 / 25.4
_PDF417_FIXED_MODULES = 69 + 2 * QUIET_ZONE  # start and stop patterns, row indicators, quiet zone

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
_LATIN1_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True, encoding="ISO-8859-1"
)

# TpoDocRef (formato-dtes-v2.2 §2.2 E): tax documents by their SII code, others by SII's list.
REFERENCE_NAMES: dict[str, str] = {
    **{str(code): name for code, name in DOC_TYPE_NAMES.items()},
    "30": "factura",
    "32": "factura de venta de bienes y servicios no afectos o exentos de IVA",
    "35": "boleta",
    "38": "boleta exenta",
    "40": "liquidación factura",
    "45": "factura de compra",
    "50": "guía de despacho",
    "55": "nota de débito",
    "60": "nota de crédito",
    "103": "liquidación",
    "801": "orden de compra",
    "802": "nota de pedido",
    "803": "contrato",
    "804": "resolución",
    "805": "proceso ChileCompra",
    "806": "ficha ChileCompra",
    "807": "DUS",
    "808": "B/L (conocimiento de embarque)",
    "809": "AWB",
    "810": "MIC/DTA",
    "811": "carta de porte",
    "812": "resolución del SNA",
    "813": "pasaporte",
    "814": "certificado de depósito Bolsa de Productos de Chile",
    "815": "vale de prenda Bolsa de Productos de Chile",
    "820": "código de inscripción en el Registro de Acuerdos con Plazo de Pago Excepcional",
    "HES": "hoja de entrada de servicios",
}
REFERENCE_CODES = {"1": "Anula documento", "2": "Corrige texto", "3": "Corrige montos"}
PAYMENT_TERMS = {"1": "Contado", "2": "Crédito", "3": "Sin costo (entrega gratuita)"}
BOLETA_TYPES = frozenset({35, 38, 39, 41})
MONTHS = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
]


class UnprintableDocumentError(FiscalError):
    """The document cannot be printed: it is not a DTE, or it lacks what its printed form must show."""

    code = "unprintable_dte"


# --- what is printed ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Party:
    rut: str
    name: str
    giro: str = ""
    address: str = ""
    comuna: str = ""
    city: str = ""
    contact: str = ""
    email: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class PrintedLine:
    name: str
    description: str
    code: str
    quantity: str  # "1,25"; empty when the line states none
    unit: str
    unit_price: str  # "$ 1.990"; empty when not stated
    discount_percent: str  # "10 %"; empty when none or given as an amount only
    discount_amount: str  # "$ 218"; empty when none
    surcharge: str
    amount: str
    exempt: bool


@dataclass(frozen=True, slots=True)
class PrintedReference:
    document: str  # "FACTURA ELECTRÓNICA"
    folio: str
    date: str
    code: str  # "Corrige montos"
    reason: str


@dataclass(frozen=True, slots=True)
class Stamp:
    """The TED's barcode as an inline PNG and the size it is printed at."""

    data_uri: str
    width_mm: float
    height_mm: float


@dataclass(frozen=True, slots=True)
class PrintedDocument:
    doc_type: int
    title: str  # "FACTURA ELECTRÓNICA"
    folio: str
    issue_date: str
    boleta: bool
    emitter: Party
    receiver: Party | None
    payment: str
    due_date: str
    lines: tuple[PrintedLine, ...]
    adjustments: tuple[tuple[str, str], ...]  # global discounts and surcharges: (label, amount)
    totals: tuple[tuple[str, str], ...]  # (label, amount), the total last
    iva_included: str  # a boleta's "IVA incluido" amount, else ""
    references: tuple[PrintedReference, ...]
    ted: bytes


# --- formatting -----------------------------------------------------------------------------------------


def _decimal_text(value: Decimal, *, places: int | None = None) -> str:
    """``1234.5`` -> ``'1.234,5'``: Chilean grouping and decimal comma, no trailing zeros."""
    if places is not None:
        value = round(value, places)
    sign = "-" if value < 0 else ""
    text = format(abs(value), "f")
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0")
    grouped = f"{int(whole):,}".replace(",", ".")
    return sign + grouped + ("," + fraction if fraction else "")


def money(value: int | Decimal | str) -> str:
    """``1234`` -> ``'$ 1.234'``."""
    return "$ " + _decimal_text(Decimal(value))


def spanish_date(value: date) -> str:
    return f"{value.day} de {MONTHS[value.month - 1]} de {value.year}"


def _rut(text: str) -> str:
    try:
        return format_rut(text)
    except ValidationError:
        return text  # a supplier's document is printed as it is


# --- reading the DTE ------------------------------------------------------------------------------------


def _parse(dte: bytes | etree._Element) -> etree._Element:
    if not isinstance(dte, bytes):
        return dte
    try:
        try:
            return etree.fromstring(dte, _PARSER)
        except etree.XMLSyntaxError:
            if b"encoding=" in dte[:100]:
                raise
            return etree.fromstring(dte, _LATIN1_PARSER)  # SII files without a declaration are Latin-1
    except etree.XMLSyntaxError as exc:
        raise UnprintableDocumentError(f"the document is not valid XML: {exc}") from None


def _local(element: etree._Element) -> str:
    return str(etree.QName(element).localname)


class _Reader:
    """Text of the plain (namespace-free) copy of a ``<Documento>``."""

    def __init__(self, documento: etree._Element) -> None:
        self.root = documento

    def text(self, path: str, parent: etree._Element | None = None) -> str:
        return ((parent if parent is not None else self.root).findtext(path) or "").strip()

    def required(self, path: str) -> str:
        value = self.text(path)
        if not value:
            raise UnprintableDocumentError(f"the document has no <{path.rsplit('/', 1)[-1]}> ({path})")
        return value

    def amount(self, path: str, parent: etree._Element | None = None) -> Decimal | None:
        value = self.text(path, parent)
        if not value:
            return None
        try:
            return Decimal(value)
        except InvalidOperation:
            raise UnprintableDocumentError(f"<{path}> is not a number: {value!r}") from None


def read_document(dte: bytes | etree._Element) -> PrintedDocument:
    """What the printed document shows, read from the DTE (its ``<DTE>`` element or its bytes)."""
    root = _parse(dte)
    if _local(root) != "DTE":
        raise UnprintableDocumentError(f"this is not a DTE: its root element is <{_local(root)}>, not <DTE>")
    documento = next(
        (child for child in root.iterchildren(etree.Element) if _local(child) == "Documento"), None
    )
    if documento is None:
        raise UnprintableDocumentError("the DTE has no <Documento> (only documents are printed, not exports)")
    ted = next((child for child in documento.iterchildren(etree.Element) if _local(child) == "TED"), None)
    if ted is None:
        raise UnprintableDocumentError(
            "the DTE has no TED (timbre electrónico): without it there is no barcode to print"
        )
    doc = _Reader(plain_copy(documento))
    try:
        doc_type = int(doc.required("Encabezado/IdDoc/TipoDTE"))
    except ValueError:
        raise UnprintableDocumentError("the DTE's TipoDTE is not a number") from None
    issued = doc.required("Encabezado/IdDoc/FchEmis")
    try:
        issue_date = spanish_date(date.fromisoformat(issued))
    except ValueError:
        raise UnprintableDocumentError(f"the DTE's FchEmis is not a date: {issued!r}") from None
    boleta = doc_type in BOLETA_TYPES
    emisor = "Encabezado/Emisor/"
    emitter = Party(
        rut=_rut(doc.required(emisor + "RUTEmisor")),
        name=doc.text(emisor + "RznSoc") or doc.text(emisor + "RznSocEmisor"),
        giro=doc.text(emisor + "GiroEmis") or doc.text(emisor + "GiroEmisor"),
        address=doc.text(emisor + "DirOrigen"),
        comuna=doc.text(emisor + "CmnaOrigen"),
        city=doc.text(emisor + "CiudadOrigen"),
        email=doc.text(emisor + "CorreoEmisor"),
        phone=doc.text(emisor + "Telefono"),
    )
    receptor = "Encabezado/Receptor/"
    receiver_rut = doc.text(receptor + "RUTRecep")
    receiver = None
    if receiver_rut and not (boleta and receiver_rut == "66666666-6"):
        receiver = Party(
            rut=_rut(receiver_rut),
            name=doc.text(receptor + "RznSocRecep"),
            giro=doc.text(receptor + "GiroRecep"),
            address=doc.text(receptor + "DirRecep"),
            comuna=doc.text(receptor + "CmnaRecep"),
            city=doc.text(receptor + "CiudadRecep"),
            contact=doc.text(receptor + "Contacto"),
        )
    due = doc.text("Encabezado/IdDoc/FchVenc")
    return PrintedDocument(
        doc_type=doc_type,
        title=DOC_TYPE_NAMES.get(doc_type, f"documento tributario electrónico {doc_type}").upper(),
        folio=doc.required("Encabezado/IdDoc/Folio"),
        issue_date=issue_date,
        boleta=boleta,
        emitter=emitter,
        receiver=receiver,
        payment=PAYMENT_TERMS.get(doc.text("Encabezado/IdDoc/FmaPago"), ""),
        due_date=_maybe_date(due),
        lines=tuple(_line(doc, detalle) for detalle in doc.root.findall("Detalle")),
        adjustments=tuple(_adjustment(doc, element) for element in doc.root.findall("DscRcgGlobal")),
        totals=_totals(doc, boleta),
        iva_included=money(iva) if boleta and (iva := doc.amount("Encabezado/Totales/IVA")) else "",
        references=tuple(_reference(doc, element) for element in doc.root.findall("Referencia")),
        ted=ted_bytes(ted),
    )


def _maybe_date(text: str) -> str:
    try:
        return spanish_date(date.fromisoformat(text)) if text else ""
    except ValueError:
        return text


def _line(doc: _Reader, detalle: etree._Element) -> PrintedLine:
    quantity = doc.amount("QtyItem", detalle)
    price = doc.amount("PrcItem", detalle)
    percent = doc.amount("DescuentoPct", detalle)
    discount = doc.amount("DescuentoMonto", detalle)
    surcharge = doc.amount("RecargoMonto", detalle)
    amount = doc.amount("MontoItem", detalle)
    codes = [
        " ".join(filter(None, (doc.text("TpoCodigo", code), doc.text("VlrCodigo", code))))
        for code in detalle.findall("CdgItem")
    ]
    return PrintedLine(
        name=doc.text("NmbItem", detalle),
        description=doc.text("DscItem", detalle),
        code=", ".join(filter(None, codes)),
        quantity=_decimal_text(quantity) if quantity is not None else "",
        unit=doc.text("UnmdItem", detalle),
        unit_price=money(price) if price is not None else "",
        discount_percent=f"{_decimal_text(percent)} %" if percent else "",
        discount_amount=money(discount) if discount else "",
        surcharge=money(surcharge) if surcharge else "",
        amount=money(amount) if amount is not None else "",
        exempt=doc.text("IndExe", detalle) in ("1", "2"),
    )


def _adjustment(doc: _Reader, element: etree._Element) -> tuple[str, str]:
    kind = "Descuento" if doc.text("TpoMov", element) == "D" else "Recargo"
    label = " ".join(filter(None, (kind, "global", doc.text("GlosaDR", element))))
    value = doc.amount("ValorDR", element) or Decimal(0)
    shown = f"{_decimal_text(value)} %" if doc.text("TpoValor", element) == "%" else money(value)
    return label, ("- " if kind == "Descuento" else "+ ") + shown


def _totals(doc: _Reader, boleta: bool) -> tuple[tuple[str, str], ...]:
    totales = "Encabezado/Totales/"
    rows: list[tuple[str, str]] = []
    neto, exento = doc.amount(totales + "MntNeto"), doc.amount(totales + "MntExe")
    iva, rate = doc.amount(totales + "IVA"), doc.amount(totales + "TasaIVA")
    total = doc.amount(totales + "MntTotal")
    if total is None:
        raise UnprintableDocumentError("the DTE has no total (Encabezado/Totales/MntTotal)")
    if neto and not boleta:
        rows.append(("Monto neto", money(neto)))
    if exento:
        rows.append(("Monto exento", money(exento)))
    if iva and not boleta:
        rows.append((f"IVA {_decimal_text(rate or Decimal(19))} %", money(iva)))
    for tax in doc.root.findall(totales + "ImptoReten"):
        value = doc.amount("MontoImp", tax)
        if value:
            rows.append((f"Impuesto adicional (código {doc.text('TipoImp', tax)})", money(value)))
    rows.append(("Total", money(total)))
    return tuple(rows)


def _reference(doc: _Reader, element: etree._Element) -> PrintedReference:
    kind = doc.text("TpoDocRef", element)
    return PrintedReference(
        document=REFERENCE_NAMES[kind].upper() if kind in REFERENCE_NAMES else kind,
        folio=doc.text("FolioRef", element),
        date=_maybe_date(doc.text("FchRef", element)),
        code=REFERENCE_CODES.get(doc.text("CodRef", element), ""),
        reason=doc.text("RazonRef", element),
    )


# --- the barcode ----------------------------------------------------------------------------------------


def _png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def stamp_for(ted: bytes, layout: Layout) -> Stamp:
    """The TED's PDF417 for ``layout``: 0.254 mm modules (see the module docstring for the sizes)."""
    module = MODULE_MM
    if layout == "thermal80":
        usable = THERMAL_WIDTH_MM - 2 * THERMAL_MARGIN_MM
        columns = max(3, min(12, int((usable / MODULE_MM - _PDF417_FIXED_MODULES) // 17)))
    else:
        columns = LETTER_COLUMNS
    image = ted_barcode(ted, columns=columns, module_px=1)  # one pixel per module: scaled in the PDF
    if layout == "letter":  # the symbol itself, without its quiet zone, at least 4.5 x 2 cm
        symbol_w, symbol_h = (image.width - 2 * QUIET_ZONE) * module, (image.height - 2 * QUIET_ZONE) * module
        module *= max(1.0, MIN_STAMP_MM[0] / symbol_w, MIN_STAMP_MM[1] / symbol_h)
    width, height = image.width * module, image.height * module
    buffer = io.BytesIO()
    image.convert("1").save(buffer, format="PNG")
    return Stamp(_png_uri(buffer.getvalue()), round(width, 3), round(height, 3))


# --- rendering ------------------------------------------------------------------------------------------


class InlineOnlyFetcher(URLFetcher):  # type: ignore[misc]
    """Serves ``data:`` URLs (the barcode, the logo), refuses anything else: a DTE's PDF fetches nothing."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols=("data",), fail_on_errors=True)

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if not url.startswith("data:"):
            raise ValueError(f"refused to fetch {url!r}: a DTE's PDF uses inline data only")
        return super().fetch(url, headers)


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["rut"] = _rut
    return environment


@functools.cache
def _stylesheet(layout: Layout) -> weasyprint.CSS:
    css = (TEMPLATES / "dte.css").read_text("utf-8") + (TEMPLATES / f"{layout}.css").read_text("utf-8")
    return weasyprint.CSS(string=css, base_url=None, url_fetcher=InlineOnlyFetcher())


def render_html(
    printed: PrintedDocument,
    *,
    layout: Layout,
    resolution_number: int,
    resolution_date: date,
    logo_png: bytes | None = None,
    sii_office: str | None = None,
) -> str:
    """The HTML the PDF is made from (useful to look at a layout in a browser)."""
    if logo_png is not None and not logo_png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise UnprintableDocumentError("the logo is not a PNG image")
    office = (sii_office or printed.emitter.comuna or "").strip().upper()
    return (
        _environment()
        .get_template(f"{layout}.html")
        .render(
            doc=printed,
            stamp=stamp_for(printed.ted, layout),
            logo=_png_uri(logo_png) if logo_png else None,
            sii_office=office,
            resolution=f"Res. {resolution_number} de {resolution_date.year}",
            page_height_mm=THERMAL_PAGE_MM,
        )
    )


def render_pdf(
    dte: bytes | etree._Element,
    *,
    layout: Layout,
    resolution_number: int,
    resolution_date: date,
    logo_png: bytes | None = None,
    sii_office: str | None = None,
) -> bytes:
    """The DTE (its ``<DTE>`` element or its bytes) as a PDF: ``thermal80`` (80 mm wide, as long as its
    content) or ``letter``. ``resolution_number`` / ``resolution_date``: the SII resolution that authorizes
    the emitter (NroResol / FchResol), printed under the stamp; ``sii_office``: the SII office printed under
    the red box (default: the emitter's comuna). Raises :class:`UnprintableDocumentError` for anything that
    is not a DTE with a TED."""
    if layout not in ("thermal80", "letter"):
        raise ValueError(f"layout is 'thermal80' or 'letter', not {layout!r}")
    printed = read_document(dte)
    html = render_html(
        printed,
        layout=layout,
        resolution_number=resolution_number,
        resolution_date=resolution_date,
        logo_png=logo_png,
        sii_office=sii_office,
    )
    document = weasyprint.HTML(string=html, base_url=None, url_fetcher=InlineOnlyFetcher()).render(
        stylesheets=[_stylesheet(layout)]
    )
    if layout == "thermal80":
        last = document.pages[-1]
        end = last.anchors.get("end")
        if end is not None:  # cut the tall page just under the content (see the module docstring)
            last.height = end[1] + THERMAL_MARGIN_MM * _CSS_PX_PER_MM
    pdf: bytes = document.write_pdf()
    return pdf
