"""TED (Timbre Electrónico del Documento): the document's key data signed with the CAF's private key.

::

    <TED version="1.0">
      <DD><RE/><TD/><F/><FE/><RR/><RSR/><MNT/><IT1/><CAF version="1.0">…</CAF><TSTED/></DD>
      <FRMT algoritmo="SHA1withRSA">SHA1withRSA(CAF private key, DD flattened)</FRMT>
    </TED>

Rules (SII, formato-dtes-v2.2 section G and DTE_v10.xsd; checked against SII's accepted samples):

* FRMT signs ``DD`` *flattened* (:func:`fiscal.cl.caf.flatten`): no whitespace between tags, no namespace
  declarations (even when the TED sits in a DTE in the ``http://www.sii.cl/SiiDte`` namespace), encoded in
  ISO-8859-1, text escaped as XML requires (``&amp; &lt; &gt;``).
* RSR (receiver's name) and IT1 (first item's description) are cut to 40 characters before escaping.
* TSTED is ``AAAA-MM-DDTHH:MI:SS`` in Chile's local time (America/Santiago).
* The embedded CAF is the CAF file's ``<CAF>`` element, flattened like the rest.
* The TED is written into the document exactly as signed (flat), and the PDF417 barcode carries the same
  flat TED in ISO-8859-1 (:func:`ted_bytes`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from fiscal.cl.caf import (
    Caf,
    doc_type_name,
    flatten,
    local_name,
    parse_caf_element,
    plain_copy,
    verify_caf_signature,
)
from fiscal.cl.rut import format_rut, normalize
from fiscal.errors import InvalidCafError, SignatureError
from schema.errors import ValidationError

CHILE = ZoneInfo("America/Santiago")
SII_NAMESPACE = "http://www.sii.cl/SiiDte"
MAX_TEXT = 40

_BARCODE_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, encoding="ISO-8859-1"
)
_DD_FIELDS = ("RE", "TD", "F", "FE", "RR", "RSR", "MNT", "IT1", "CAF", "TSTED")


@dataclass(frozen=True)
class TedData:
    """What the TED certifies. Field by field: RE, TD, F, FE, RR, RSR, MNT, IT1, TSTED.

    ``timestamp`` is Chile local time: a naive datetime is taken as such, an aware one is converted.
    """

    issuer_rut: str  # RE
    doc_type: int  # TD
    folio: int  # F
    issue_date: date  # FE
    receiver_rut: str  # RR (66666666-6 for an anonymous boleta buyer)
    receiver_name: str  # RSR, cut to 40 characters
    total: int  # MNT, the document's total amount
    first_item: str  # IT1, the first line's description, cut to 40 characters
    timestamp: datetime  # TSTED


def _local(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(CHILE).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def stamp(data: TedData, caf: Caf, *, namespace: str | None = None) -> etree._Element:
    """Build and sign the TED of a document with ``caf``'s private key.

    ``namespace``: pass :data:`SII_NAMESPACE` to get elements ready to append to a ``<Documento>`` in SII's
    namespace; the signature is the same either way (DD is signed without namespaces).
    """
    ted = _stamp(data, caf)
    if not namespace:
        return ted
    if not namespace.isascii():
        return plain_copy(ted, namespace)
    # The same elements in ``namespace``: the flat TED parsed again with the namespace declared on <TED>
    # (what plain_copy(ted, namespace) builds, element by element, at several times the cost).
    flat: bytes = etree.tostring(ted, encoding="ISO-8859-1", xml_declaration=False)
    declared = b'<TED xmlns="' + escape(namespace, {'"': "&quot;"}).encode("ascii") + b'" '
    return etree.fromstring(declared + flat.removeprefix(b"<TED "), _BARCODE_PARSER)


def stamp_bytes(data: TedData, caf: Caf) -> bytes:
    """:func:`stamp`, as the bytes :func:`ted_bytes` would give of it (flat, ISO-8859-1): what the PDF417
    carries, and what a DTE built as text embeds (``fiscal.cl.dte``)."""
    flat: bytes = etree.tostring(_stamp(data, caf), encoding="ISO-8859-1", xml_declaration=False)
    return flat


def _stamp(data: TedData, caf: Caf) -> etree._Element:
    """The signed TED, built flat (no whitespace between tags, no namespaces)."""
    if caf.private_key is None:
        raise InvalidCafError("this CAF has no private key (RSASK): it cannot stamp documents")
    issuer = normalize(data.issuer_rut)
    receiver = normalize(data.receiver_rut)
    if caf.rut != issuer:
        raise InvalidCafError(
            f"the CAF is for RUT {format_rut(caf.rut)}, not this company's {format_rut(issuer)}",
            caf_rut=caf.rut,
            rut=issuer,
        )
    if caf.doc_type != data.doc_type:
        raise InvalidCafError(
            f"the CAF is for document type {doc_type_name(caf.doc_type)}, not {doc_type_name(data.doc_type)}",
        )
    if not caf.covers(data.folio):
        raise InvalidCafError(
            f"folio {data.folio} is outside this CAF's range {caf.first}-{caf.last}",
            folio=data.folio,
        )
    if data.total < 0:
        raise ValidationError(f"the total amount (MNT) cannot be negative: {data.total}")
    receiver_name = data.receiver_name[:MAX_TEXT]
    first_item = data.first_item[:MAX_TEXT]
    if not receiver_name.strip():
        raise ValidationError("the receiver's name (RSR) is required in the TED")
    if not first_item.strip():
        raise ValidationError("the first item's description (IT1) is required in the TED")

    def sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
        element = etree.SubElement(parent, tag)
        element.text = text
        return element

    ted = etree.Element("TED", version="1.0")
    dd = sub(ted, "DD")
    sub(dd, "RE", issuer)
    sub(dd, "TD", str(data.doc_type))
    sub(dd, "F", str(data.folio))
    sub(dd, "FE", data.issue_date.isoformat())
    sub(dd, "RR", receiver)
    sub(dd, "RSR", receiver_name)
    sub(dd, "MNT", str(data.total))
    sub(dd, "IT1", first_item)
    dd.append(caf.plain_element())
    sub(dd, "TSTED", _local(data.timestamp).isoformat(timespec="seconds"))
    # DD is built flat (no whitespace, no namespaces), so its serialization is already flatten(dd).
    flat_dd: bytes = etree.tostring(dd, encoding="ISO-8859-1", xml_declaration=False)
    signature = caf.private_key.sign(flat_dd, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 (SII's)
    sub(ted, "FRMT", base64.b64encode(signature).decode("ascii")).set("algoritmo", "SHA1withRSA")
    return ted


def ted_bytes(ted: etree._Element) -> bytes:
    """The exact ISO-8859-1 bytes to draw in the PDF417 barcode: the TED flattened like DD."""
    return flatten(ted)


def parse_ted(data: bytes) -> etree._Element:
    """A TED from the bytes a PDF417 reader returns (ISO-8859-1, no XML declaration)."""
    try:
        return etree.fromstring(data, _BARCODE_PARSER)
    except etree.XMLSyntaxError as exc:
        raise SignatureError(f"the barcode does not hold a TED: {exc}") from None


def verify_ted(ted: etree._Element, authority_keys: Mapping[int, rsa.RSAPublicKey] | None = None) -> TedData:
    """Check FRMT against the CAF embedded in the TED (and the CAF's FRMA when ``authority_keys`` is given).

    Works on the TED as found in a document, namespaced or not. Raises :class:`SignatureError` when the
    stamp does not match its data, :class:`InvalidCafError` when the embedded CAF is not acceptable.
    """
    plain = plain_copy(ted)
    if local_name(plain) != "TED":
        raise SignatureError(f"expected a <TED> element, found <{local_name(plain)}>")
    dd, frmt = plain.find("DD"), plain.find("FRMT")
    if dd is None or frmt is None:
        raise SignatureError("the TED is incomplete: it needs <DD> and <FRMT>")
    names = tuple(local_name(child) for child in dd)
    if names != _DD_FIELDS:
        raise SignatureError(
            f"the TED's <DD> has fields {', '.join(map(str, names))}; SII's order is {', '.join(_DD_FIELDS)}"
        )
    caf_element = dd.find("CAF")
    assert caf_element is not None
    caf = parse_caf_element(caf_element)
    if frmt.get("algoritmo") != "SHA1withRSA":
        raise SignatureError(f"the TED's signature algorithm {frmt.get('algoritmo')!r} is not SHA1withRSA")
    try:
        signature = base64.b64decode("".join((frmt.text or "").split()), validate=True)
    except binascii.Error:
        raise SignatureError("the TED's signature (FRMT) is not valid base64") from None
    try:
        caf.public_key.verify(signature, flatten(dd), padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    except InvalidSignature:
        raise SignatureError(
            "the TED's signature (FRMT) does not match its data: the stamp was altered (e.g. its total) "
            "or was not made with the embedded CAF"
        ) from None
    data = _ted_data(dd)
    if data.issuer_rut != caf.rut or data.doc_type != caf.doc_type or not caf.covers(data.folio):
        raise InvalidCafError(
            f"the TED is for {format_rut(data.issuer_rut)}, type {data.doc_type}, folio {data.folio}, "
            f"but its CAF authorizes {format_rut(caf.rut)}, type {caf.doc_type}, "
            f"folios {caf.first}-{caf.last}"
        )
    if authority_keys is not None:
        verify_caf_signature(caf, authority_keys)
    return data


def _ted_data(dd: etree._Element) -> TedData:
    def text(name: str) -> str:
        return dd.findtext(name) or ""

    try:
        return TedData(
            issuer_rut=normalize(text("RE")),
            doc_type=int(text("TD")),
            folio=int(text("F")),
            issue_date=date.fromisoformat(text("FE")),
            receiver_rut=normalize(text("RR")),
            receiver_name=text("RSR"),
            total=int(text("MNT")),
            first_item=text("IT1"),
            timestamp=datetime.fromisoformat(text("TSTED")),
        )
    except (ValueError, ValidationError) as exc:
        raise SignatureError(f"the TED's data is malformed: {exc}") from None
