"""Build a DTE (boleta 39, factura 33, nota de crédito 61): XML in SII's schema order, TED, XMLDSig.

The result of :func:`build_document`::

    <DTE version="1.0" xmlns="http://www.sii.cl/SiiDte" xmlns:xsi="...XMLSchema-instance">
      <Documento ID="T33F170">Encabezado(IdDoc, Emisor, Receptor, Totales) Detalle+ Referencia* TED TmstFirma
      </Documento>
      <Signature xmlns="http://www.w3.org/2000/09/xmldsig#">…</Signature>
    </DTE>

* Element order and names follow the schemas: ``DTE_v10.xsd`` for 33 and 61, ``EnvioBOLETA_v11.xsd``'s
  ``BOLETADefType`` for 39 (``RznSocEmisor``/``GiroEmisor``, no ``Acteco``, ``IndServicio`` required: 3 =
  "boletas de venta y servicios", ``IVA`` omitted when 0 because it is a positiveInteger there).
* Amounts come from :mod:`fiscal.cl.totals` (its docstring cites the rules). A 39 prices include IVA; a 33
  or 61 prices are net unless ``prices_include_iva`` is set, in which case the net lines are derived with
  :func:`fiscal.cl.totals.from_gross_lines` so the document's total is the till's.
* The ``Documento`` is signed standalone (``fiscal.xmldsig.sign_enveloped``) before it goes into an
  envelope. Inclusive C14N renders every namespace in scope on the signed element, and SII's envelopes
  declare ``xmlns:xsi`` (the SetDTE signature is computed with it in scope), so the DTE declares
  ``xmlns:xsi`` itself: the Documento's canonical form, hence its signature, is then the same standalone
  and inside ``EnvioDTE``/``EnvioBOLETA``, whichever way a verifier looks at it.
* Input limits with their sources: at most 60 lines on a 33/61 (formato-dtes-v2.2 §2.1, "no podrá exceder
  de 60 líneas"; ``Detalle maxOccurs=60``), 1000 on a 39 (``EnvioBOLETA_v11.xsd``), 40 references (both).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Final, Literal

import msgspec
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from fiscal.certificates import Signer
from fiscal.cl import totals as amounts
from fiscal.cl.caf import Caf, doc_type_name
from fiscal.cl.rut import format_rut, normalize
from fiscal.cl.ted import CHILE, TedData, stamp_bytes
from fiscal.errors import InvalidCafError
from fiscal.xmldsig import sign_enveloped
from schema.errors import ValidationError

SII_NS: Final = "http://www.sii.cl/SiiDte"
XSI_NS: Final = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP: Final = {None: SII_NS, "xsi": XSI_NS}

CONSUMIDOR_FINAL_RUT: Final = "66666666-6"
BOLETA_SERVICE_INDICATOR: Final = 3  # IndServicio 3: boletas de venta y servicios
MAX_LINES: Final = {39: 1000, 33: 60, 61: 60}
MAX_REFERENCES: Final = 40
# Documents a nota de crédito may cancel or correct (formato-dtes-v2.2 §2.2 E, CodRef): sales documents
# and notas de débito, electronic or on paper; never another nota de crédito (60, 61, 112).
CREDITABLE_TYPES: Final = frozenset({30, 32, 33, 34, 35, 38, 39, 41, 45, 46, 55, 56, 110, 111})

Text40 = Annotated[str, msgspec.Meta(max_length=40)]
Text20 = Annotated[str, msgspec.Meta(max_length=20)]
Text70 = Annotated[str, msgspec.Meta(max_length=70)]
Acteco = Annotated[int, msgspec.Meta(ge=1, le=999_999)]


class DteInputError(ValidationError):
    """The document asked for cannot be issued as given."""

    code = "invalid_dte"


class Emitter(msgspec.Struct, frozen=True, kw_only=True):
    rut: str
    razon_social: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    giro: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    acteco: Annotated[list[Acteco], msgspec.Meta(min_length=1, max_length=4)]  # economic activity codes
    address: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]  # DirOrigen: 60 in the PDF, 70 in xsd
    comuna: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    city: Text20 = ""
    branch_code: Annotated[int, msgspec.Meta(ge=1, le=999_999_999)] | None = None  # CdgSIISucur
    email: Annotated[str, msgspec.Meta(max_length=80)] | None = None


class Receiver(msgspec.Struct, frozen=True, kw_only=True):
    rut: str
    razon_social: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    giro: Text40 = ""
    address: Text70 = ""
    comuna: Text20 = ""
    city: Text20 = ""


CONSUMIDOR_FINAL: Final = Receiver(rut=CONSUMIDOR_FINAL_RUT, razon_social="Consumidor final")


class DocLine(msgspec.Struct, frozen=True, kw_only=True):
    """One line: ``quantity`` in thousandths of ``unit``, ``unit_price`` in pesos (gross on a boleta)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    quantity: Annotated[int, msgspec.Meta(gt=0, le=amounts.MAX_QUANTITY)]
    unit_price: Annotated[int, msgspec.Meta(ge=0, le=amounts.MAX_AMOUNT)]
    unit: Annotated[str, msgspec.Meta(min_length=1, max_length=4)] = "UN"
    discount_percent: Annotated[int, msgspec.Meta(ge=0, le=100)] = 0
    discount_amount: Annotated[int, msgspec.Meta(ge=0, le=amounts.MAX_AMOUNT)] = 0
    exempt: bool = False
    description: Annotated[str, msgspec.Meta(max_length=1000)] | None = None


class Reference(msgspec.Struct, frozen=True, kw_only=True):
    """A ``Referencia``: the document this one refers to. ``cod_ref`` 1 annuls it, 2 corrects its text,
    3 corrects its amounts; ``referenced_total`` (its MntTotal) is required to annul, to check the amounts."""

    doc_type: Annotated[int, msgspec.Meta(ge=1, le=999)]
    folio: Annotated[str, msgspec.Meta(min_length=1, max_length=18)]
    date: date
    cod_ref: Literal[1, 2, 3] | None = None
    reason: Annotated[str, msgspec.Meta(max_length=90)] = ""
    referenced_total: Annotated[int, msgspec.Meta(ge=0)] | None = None


class DocumentInput(msgspec.Struct, frozen=True, kw_only=True):
    doc_type: Literal[39, 33, 61]
    folio: Annotated[int, msgspec.Meta(ge=1, le=9_999_999_999)]
    issue_date: date
    emitter: Emitter
    lines: list[DocLine]
    receiver: Receiver | None = None  # 39: consumidor final when absent
    references: list[Reference] = msgspec.field(default_factory=list)
    payment_method: Literal[1, 2, 3] | None = None  # FmaPago: 1 contado, 2 crédito, 3 sin costo
    prices_include_iva: bool | None = None  # None: yes for 39, no for 33 and 61


@dataclass(frozen=True, slots=True)
class Priced:
    """What a document states: its lines and totals (``iva_adjusted``: see ``totals.from_gross_lines``)."""

    lines: tuple[amounts.PricedLine, ...]
    totals: amounts.Totals
    iva_adjusted: bool = False


def document_id(doc_type: int, folio: int) -> str:
    """The ``Documento``'s ``ID`` (an xs:ID: must not start with a digit), unique within an envelope."""
    return f"T{doc_type}F{folio}"


def price_document(doc: DocumentInput) -> Priced:
    """The document's lines and totals as they will be written (see the module docstring)."""
    gross = doc.prices_include_iva if doc.prices_include_iva is not None else doc.doc_type == 39
    if doc.doc_type == 39:
        if not gross:
            raise DteInputError("a boleta's prices include IVA: prices_include_iva cannot be false for a 39")
        lines, totals = amounts.document_totals(39, doc.lines)
        return Priced(tuple(lines), totals)
    if gross:
        converted = amounts.from_gross_lines(doc.lines)
        return Priced(converted.lines, converted.totals, converted.iva_adjusted)
    lines, totals = amounts.document_totals(doc.doc_type, doc.lines)
    return Priced(tuple(lines), totals)


def build_document(doc: DocumentInput, caf: Caf, signer: Signer, stamped_at: datetime) -> etree._Element:
    """The signed ``<DTE>`` of ``doc``, stamped with ``caf`` at ``stamped_at`` (Chile time if naive)."""
    doc = _checked(doc)
    receiver = _receiver(doc)
    _check_caf(doc, caf)
    _check_references(doc)
    priced = price_document(doc)
    _check_amounts(doc, priced)

    doc_id = document_id(doc.doc_type, doc.folio)
    ted = stamp_bytes(
        TedData(
            issuer_rut=doc.emitter.rut,
            doc_type=doc.doc_type,
            folio=doc.folio,
            issue_date=doc.issue_date,
            receiver_rut=receiver.rut,
            receiver_name=receiver.razon_social,
            total=priced.totals.total,
            first_item=doc.lines[0].name,
            timestamp=stamped_at,
        ),
        caf,
    )
    # The document is written as text and parsed once: a third of the cost of building ~100 elements one
    # by one with lxml, for the same tree (every text escaped as lxml would, see _text).
    out = [f'<DTE xmlns="{SII_NS}" xmlns:xsi="{XSI_NS}" version="1.0"><Documento ID="{doc_id}"><Encabezado>']
    if doc.doc_type == 39:
        _boleta_header(out, doc, receiver, priced.totals)
    else:
        _dte_header(out, doc, receiver, priced.totals)
    out.append("</Encabezado>")
    for number, (line, source) in enumerate(zip(priced.lines, doc.lines, strict=True), start=1):
        _detail(out, number, line, source)
    for number, reference in enumerate(doc.references, start=1):
        _reference(out, number, reference, boleta=doc.doc_type == 39)
    # The TED exactly as signed (flat); its characters beyond ISO-8859-1 are character references.
    out.append(ted.decode("iso-8859-1"))
    _leaf(out, "TmstFirma", _timestamp(stamped_at))
    out.append("</Documento></DTE>")
    root = etree.fromstring("".join(out).encode("utf-8"), _PARSER)
    # sign_enveloped builds its <Signature> with lxml (xmlsec only fills in values), so lxml's find() and
    # XPath see every element of the result without serializing and parsing it again.
    return sign_enveloped(root, doc_id, signer)


# --- validation -----------------------------------------------------------------------------------------


def _checked(doc: DocumentInput) -> DocumentInput:
    """Apply the structs' constraints (msgspec checks them when decoding, not in constructors) and
    normalize the RUTs."""
    try:
        doc = msgspec.convert(msgspec.to_builtins(doc), DocumentInput)
    except msgspec.ValidationError as exc:
        raise DteInputError(f"the document is not valid: {exc}") from None
    try:
        emitter = msgspec.structs.replace(doc.emitter, rut=normalize(doc.emitter.rut))
    except ValidationError as exc:
        raise DteInputError(f"the emitter's RUT is not valid: {exc.message}") from None
    receiver = doc.receiver
    if receiver is not None:
        try:
            receiver = msgspec.structs.replace(receiver, rut=normalize(receiver.rut))
        except ValidationError as exc:
            raise DteInputError(f"the receiver's RUT is not valid: {exc.message}") from None
    if not doc.lines:
        raise DteInputError("a document needs at least one line")
    if len(doc.lines) > MAX_LINES[doc.doc_type]:
        raise DteInputError(
            f"a {doc_type_name(doc.doc_type)} has at most {MAX_LINES[doc.doc_type]} lines, "
            f"this one has {len(doc.lines)}: split the sale into several documents"
        )
    if len(doc.references) > MAX_REFERENCES:
        raise DteInputError(f"a document has at most {MAX_REFERENCES} references, got {len(doc.references)}")
    return msgspec.structs.replace(doc, emitter=emitter, receiver=receiver)


def _receiver(doc: DocumentInput) -> Receiver:
    receiver = doc.receiver
    if doc.doc_type == 33:
        if receiver is None:
            raise DteInputError(
                "a factura (33) needs a receiver: RUT, razón social, giro, address and comuna"
            )
        if receiver.rut == CONSUMIDOR_FINAL_RUT:
            raise DteInputError(
                "a factura (33) cannot be issued to the anonymous buyer 66666666-6: issue a boleta"
            )
        missing = [name for name in ("giro", "address", "comuna") if not getattr(receiver, name).strip()]
        if missing:
            raise DteInputError(
                f"a factura (33) needs the receiver's {', '.join(missing)} (formato-dtes-v2.2 §2.2 A, "
                "GiroRecep/DirRecep/CmnaRecep are mandatory on a factura)"
            )
        return receiver
    if receiver is not None:
        return receiver
    if doc.doc_type == 61 and not any(ref.doc_type in (39, 41, 35, 38) for ref in doc.references):
        raise DteInputError("a nota de crédito (61) needs a receiver unless it refers to a boleta")
    return CONSUMIDOR_FINAL


def _check_caf(doc: DocumentInput, caf: Caf) -> None:
    if caf.doc_type != doc.doc_type:
        raise InvalidCafError(
            f"the CAF is for document type {doc_type_name(caf.doc_type)}, not {doc_type_name(doc.doc_type)}"
        )
    if caf.rut != doc.emitter.rut:
        raise InvalidCafError(
            f"the CAF is for RUT {format_rut(caf.rut)}, not the emitter's {format_rut(doc.emitter.rut)}"
        )
    if not caf.covers(doc.folio):
        raise InvalidCafError(
            f"folio {doc.folio} is outside the CAF's range {caf.first}-{caf.last} "
            f"of {doc_type_name(caf.doc_type)}"
        )
    if caf.private_key is None:
        raise InvalidCafError("this CAF has no private key (RSASK): it cannot stamp documents")
    expires = caf.expires
    if expires is not None and doc.issue_date >= expires:
        raise InvalidCafError(
            f"the CAF for folios {caf.first}-{caf.last} expired on {expires.isoformat()}, "
            f"before the issue date {doc.issue_date.isoformat()}"
        )


def _check_references(doc: DocumentInput) -> None:
    for reference in doc.references:
        if reference.date > doc.issue_date:
            raise DteInputError(
                f"reference to {reference.doc_type} folio {reference.folio} is dated "
                f"{reference.date.isoformat()}, after this document's issue date {doc.issue_date.isoformat()}"
            )
    if doc.doc_type != 61:
        return
    coded = [reference for reference in doc.references if reference.cod_ref is not None]
    if not doc.references:
        raise DteInputError("a nota de crédito (61) must reference the document it annuls or corrects")
    if not coded:
        raise DteInputError(
            "a nota de crédito (61) must say what it does to the referenced document: "
            "cod_ref 1 (anula), 2 (corrige texto) or 3 (corrige montos)"
        )
    for reference in coded:
        if reference.doc_type in (60, 61, 112):
            raise DteInputError(
                f"a nota de crédito cannot reference another nota de crédito ({reference.doc_type} folio "
                f"{reference.folio}): to undo a credit note, issue a nota de débito (56)"
            )
        if reference.doc_type not in CREDITABLE_TYPES:
            raise DteInputError(
                f"a nota de crédito can annul or correct a sales document or a nota de débito, "
                f"not a document of type {reference.doc_type}"
            )
    if any(reference.cod_ref in (1, 2) for reference in coded) and len(doc.references) != 1:
        raise DteInputError(
            "a nota de crédito that annuls (1) or corrects text (2) must have a single reference "
            "(formato-dtes-v2.2 §2.2 E, CodRef)"
        )


def _check_amounts(doc: DocumentInput, priced: Priced) -> None:
    if doc.doc_type != 61:
        return
    reference = next(ref for ref in doc.references if ref.cod_ref is not None)
    if reference.cod_ref == 1:
        if reference.referenced_total is None:
            raise DteInputError(
                "annulling a document (cod_ref 1) needs its total (referenced_total) to check that the "
                "credit note gives back exactly that"
            )
        if priced.totals.total != reference.referenced_total:
            raise DteInputError(
                f"a nota de crédito that annuls {reference.doc_type} folio {reference.folio} must have its "
                f"amounts: total {priced.totals.total} != {reference.referenced_total}"
            )
    elif reference.cod_ref == 2 and priced.totals.total != 0:
        raise DteInputError(
            "a nota de crédito that corrects text (cod_ref 2) carries no amounts: its lines must be worth 0 "
            f"(formato-dtes-v2.2 §2.2 B, MontoItem), these add up to {priced.totals.total}"
        )


# --- XML ------------------------------------------------------------------------------------------------


_PARSER: Final = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_ESCAPES: Final = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_SPECIAL: Final = re.compile("[&<>\r]")
# Characters XML 1.0 cannot carry (lxml refuses them in a text as well).
_NOT_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str | int, name: str) -> str:
    """``value`` as element content, escaped the way lxml serializes a text: ``& < >``, and a carriage
    return as ``&#13;`` (a literal one would be read back as a line feed)."""
    if isinstance(value, int):
        return str(value)
    if _NOT_XML.search(value):
        raise DteInputError(
            f"<{name}> has a character XML cannot carry (a control character or a non-character): {value!r}",
            field=name,
        )
    return value.translate(_ESCAPES) if _SPECIAL.search(value) else value


def _leaf(out: list[str], name: str, value: str | int) -> None:
    out.append(f"<{name}>{_text(value, name)}</{name}>")


def _optional(out: list[str], name: str, value: str | int | None) -> None:
    if value not in (None, ""):
        assert value is not None
        _leaf(out, name, value)


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(CHILE).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat(timespec="seconds")


def _decimal(value: int, scale: int) -> str:
    """``value / scale`` written with only its significant decimals ("2.5", "1", "280.672269")."""
    whole, fraction = divmod(value, scale)
    if not fraction:
        return str(whole)
    digits = len(str(scale)) - 1
    return f"{whole}.{fraction:0{digits}d}".rstrip("0")


def _dte_header(out: list[str], doc: DocumentInput, receiver: Receiver, totals: amounts.Totals) -> None:
    out.append("<IdDoc>")
    _leaf(out, "TipoDTE", doc.doc_type)
    _leaf(out, "Folio", doc.folio)
    _leaf(out, "FchEmis", doc.issue_date.isoformat())
    # FmaPago is mandatory on a factura (formato-dtes-v2.2, changes of 31/05/2017): a till sale is paid.
    payment = doc.payment_method or (1 if doc.doc_type == 33 else None)
    _optional(out, "FmaPago", payment)
    out.append("</IdDoc><Emisor>")
    emitter = doc.emitter
    _leaf(out, "RUTEmisor", emitter.rut)
    _leaf(out, "RznSoc", emitter.razon_social)
    _leaf(out, "GiroEmis", emitter.giro)
    _optional(out, "CorreoEmisor", emitter.email)
    for code in emitter.acteco:
        _leaf(out, "Acteco", code)
    _optional(out, "CdgSIISucur", emitter.branch_code)
    _leaf(out, "DirOrigen", emitter.address)
    _leaf(out, "CmnaOrigen", emitter.comuna)
    _optional(out, "CiudadOrigen", emitter.city)
    out.append("</Emisor><Receptor>")
    _leaf(out, "RUTRecep", receiver.rut)
    _leaf(out, "RznSocRecep", receiver.razon_social)
    _optional(out, "GiroRecep", receiver.giro)
    _optional(out, "DirRecep", receiver.address)
    _optional(out, "CmnaRecep", receiver.comuna)
    _optional(out, "CiudadRecep", receiver.city)
    out.append("</Receptor><Totales>")
    if totals.neto:
        _leaf(out, "MntNeto", totals.neto)
    if totals.exento:
        _leaf(out, "MntExe", totals.exento)
    if totals.neto:
        _leaf(out, "TasaIVA", amounts.IVA_PERCENT)
        _leaf(out, "IVA", totals.iva)
    _leaf(out, "MntTotal", totals.total)
    out.append("</Totales>")


def _boleta_header(out: list[str], doc: DocumentInput, receiver: Receiver, totals: amounts.Totals) -> None:
    out.append("<IdDoc>")
    _leaf(out, "TipoDTE", doc.doc_type)
    _leaf(out, "Folio", doc.folio)
    _leaf(out, "FchEmis", doc.issue_date.isoformat())
    _leaf(out, "IndServicio", BOLETA_SERVICE_INDICATOR)
    out.append("</IdDoc><Emisor>")
    emitter = doc.emitter
    _leaf(out, "RUTEmisor", emitter.rut)
    _leaf(out, "RznSocEmisor", emitter.razon_social)
    _leaf(out, "GiroEmisor", emitter.giro)
    _optional(out, "CdgSIISucur", emitter.branch_code)
    _leaf(out, "DirOrigen", emitter.address)
    _leaf(out, "CmnaOrigen", emitter.comuna)
    _optional(out, "CiudadOrigen", emitter.city)
    out.append("</Emisor><Receptor>")
    _leaf(out, "RUTRecep", receiver.rut)
    _leaf(out, "RznSocRecep", receiver.razon_social)
    _optional(out, "DirRecep", receiver.address)
    _optional(out, "CmnaRecep", receiver.comuna)
    _optional(out, "CiudadRecep", receiver.city)
    out.append("</Receptor><Totales>")
    if totals.neto:
        _leaf(out, "MntNeto", totals.neto)
    if totals.exento:
        _leaf(out, "MntExe", totals.exento)
    if totals.iva:  # MntImpType: a positive integer, so absent when 0
        _leaf(out, "IVA", totals.iva)
    _leaf(out, "MntTotal", totals.total)
    out.append("</Totales>")


def _detail(out: list[str], number: int, line: amounts.PricedLine, source: DocLine) -> None:
    # Up to a thousand per document: numbers are written directly, only the texts go through _text.
    out.append(f"<Detalle><NroLinDet>{number}</NroLinDet>")
    if line.exempt:
        out.append("<IndExe>1</IndExe>")
    out.append(f"<NmbItem>{_text(source.name, 'NmbItem')}</NmbItem>")
    if source.description:
        out.append(f"<DscItem>{_text(source.description, 'DscItem')}</DscItem>")
    out.append(f"<QtyItem>{_decimal(line.quantity, 1000)}</QtyItem>")
    out.append(f"<UnmdItem>{_text(source.unit, 'UnmdItem')}</UnmdItem>")
    if line.price:  # Dec12_6Type starts at 0.000001: a free item states no price
        out.append(f"<PrcItem>{_decimal(line.price, amounts.PRICE_SCALE)}</PrcItem>")
    if line.discount:  # DescuentoMonto is a positive integer; a percent always comes with its amount
        if line.discount_percent:
            out.append(f"<DescuentoPct>{line.discount_percent}</DescuentoPct>")
        out.append(f"<DescuentoMonto>{line.discount}</DescuentoMonto>")
    out.append(f"<MontoItem>{line.amount}</MontoItem></Detalle>")


def _reference(out: list[str], number: int, reference: Reference, *, boleta: bool) -> None:
    out.append("<Referencia>")
    _leaf(out, "NroLinRef", number)
    _leaf(out, "TpoDocRef", reference.doc_type)
    _leaf(out, "FolioRef", reference.folio)
    if not boleta:  # the boleta's Referencia has no FchRef
        _leaf(out, "FchRef", reference.date.isoformat())
    _optional(out, "CodRef", reference.cod_ref)
    _optional(out, "RazonRef", reference.reason)
    out.append("</Referencia>")
