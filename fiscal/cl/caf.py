"""CAF (Código de Autorización de Folios): SII's authorization to number documents of one type.

A CAF file, as SII hands it out::

    <AUTORIZACION>
      <CAF version="1.0">
        <DA><RE>rut</RE><RS>razón social</RS><TD>33</TD><RNG><D>1</D><H>100</H></RNG>
            <FA>2024-01-10</FA><RSAPK><M>…</M><E>Aw==</E></RSAPK><IDK>300</IDK></DA>
        <FRMA algoritmo="SHA1withRSA">SII's signature over DA</FRMA>
      </CAF>
      <RSASK>-----BEGIN RSA PRIVATE KEY----- (stamps the TEDs)</RSASK>
      <RSAPUBK>-----BEGIN PUBLIC KEY----- (same key as RSAPK)</RSAPUBK>
    </AUTORIZACION>

FRMA is SHA1withRSA, by the SII key numbered IDK (100 certification, 300 production), over ``DA``
*flattened* (:func:`flatten`): no whitespace between tags, no namespace declarations, ISO-8859-1. The rule
is proven against the real CAFs embedded in SII's accepted sample documents (tests/fiscal/cl/test_caf.py).

Expiry (:func:`expires_on`), Resolución Exenta SII N° 58 of 2017: CAFs authorized from 2018-07-01 are valid
for six months from their authorization date (FA); those authorized earlier had eighteen months, capped at
2018-12-31 (2017-06-30 for CAFs authorized before 2016). The rule applies to the documents that give right to
a VAT credit: factura (33), liquidación factura (43), factura de compra (46), nota de débito (56) and nota
de crédito (61); boletas (39, 41), facturas exentas (34), guías (52) and export documents do not expire.
Sources: the resolution as quoted at https://bbsc.cl/?p=9360 and summarized by provider facturae.cl
(https://www.facturae.cl/manualdeusuario/index.php?p=descargar_folios); LibreDTE applies the same list of
types. The six months are counted conservatively: a CAF authorized on 2024-01-10 may be used up to and
including 2024-07-09 (the same-numbered day six months later is the first day it is refused), so a
document is never stamped on a day SII might count as outside the term.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import copy
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from fiscal.cl.rut import format_rut, normalize
from fiscal.errors import InvalidCafError
from schema.errors import ValidationError

EXPIRING_DOC_TYPES = frozenset({33, 43, 46, 56, 61})
"""Document types whose CAF expires (Res. Ex. SII N° 58/2017): those giving right to a VAT credit."""

VALIDITY_MONTHS = 6

DOC_TYPE_NAMES: dict[int, str] = {
    33: "factura electrónica",
    34: "factura no afecta o exenta electrónica",
    39: "boleta electrónica",
    41: "boleta exenta electrónica",
    43: "liquidación factura electrónica",
    46: "factura de compra electrónica",
    52: "guía de despacho electrónica",
    56: "nota de débito electrónica",
    61: "nota de crédito electrónica",
    110: "factura de exportación electrónica",
    111: "nota de débito de exportación electrónica",
    112: "nota de crédito de exportación electrónica",
}

# Untrusted files: no entity expansion, no network, no DTD loading.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
_LATIN1_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, encoding="ISO-8859-1"
)


@dataclass(frozen=True)
class Caf:
    """A parsed CAF. ``xml`` is the ``<CAF>`` element as received (its whitespace kept), in UTF-8."""

    rut: str
    razon_social: str
    doc_type: int
    first: int
    last: int
    authorized: date
    idk: int
    public_key: rsa.RSAPublicKey = field(repr=False)
    private_key: rsa.RSAPrivateKey | None = field(repr=False)
    xml: bytes = field(repr=False)
    frma: bytes = field(repr=False)

    def covers(self, folio: int) -> bool:
        return self.first <= folio <= self.last

    @property
    def expires(self) -> date | None:
        """The first day this CAF may no longer be used, or None if its type never expires."""
        return expires_on(self.doc_type, self.authorized)

    def element(self) -> etree._Element:
        """A fresh copy of the ``<CAF>`` element."""
        return etree.fromstring(self.xml, _PARSER)

    @functools.cached_property
    def _plain(self) -> etree._Element:
        return plain_copy(self.element())

    def plain_element(self) -> etree._Element:
        """A fresh copy of the ``<CAF>`` element without whitespace between tags or namespaces, as a TED
        embeds it (:func:`plain_copy`). Made from the file once per ``Caf``, then copied: every TED stamped
        with this CAF embeds it."""
        return copy.deepcopy(self._plain)

    def signed_data(self) -> bytes:
        """The bytes SII signed (FRMA): ``DA`` flattened."""
        da = plain_copy(self.element()).find("DA")
        assert da is not None  # parse_caf_element checked it
        return flatten(da)


def doc_type_name(doc_type: int) -> str:
    name = DOC_TYPE_NAMES.get(doc_type)
    return f"{doc_type} ({name})" if name else str(doc_type)


def expires_on(doc_type: int, authorized: date) -> date | None:
    """First day a CAF of this type authorized on that date is no longer valid (None: never expires)."""
    if doc_type not in EXPIRING_DOC_TYPES:
        return None
    if authorized >= date(2018, 7, 1):
        return _add_months(authorized, VALIDITY_MONTHS)
    cap = date(2017, 7, 1) if authorized < date(2016, 1, 1) else date(2019, 1, 1)
    return min(_add_months(authorized, 18), cap)


def _add_months(day: date, months: int) -> date:
    years, month0 = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month0 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def local_name(element: etree._Element) -> str:
    return str(etree.QName(element).localname)


# --- flattening -----------------------------------------------------------------------------------------


def plain_copy(element: etree._Element, namespace: str | None = None) -> etree._Element:
    """``element`` copied without whitespace between tags, comments or namespaces (or all in ``namespace``).

    Built element by element rather than with ``etree.tostring(..., method="c14n")`` on a subelement, which
    can emit a spurious ``xmlns=""`` when the default namespace comes from an ancestor.
    """

    def tag(name: str) -> str:
        return f"{{{namespace}}}{name}" if namespace else name

    def copy(source: etree._Element, parent: etree._Element | None) -> etree._Element:
        name = etree.QName(source).localname
        attributes = {etree.QName(k).localname: v for k, v in source.attrib.items()}
        if parent is None:
            nsmap = {None: namespace} if namespace else None
            target = etree.Element(tag(name), attributes, nsmap=nsmap)
        else:
            target = etree.SubElement(parent, tag(name), attributes)
        children = [child for child in source if isinstance(child.tag, str)]
        if children:
            for child in children:
                copy(child, target)
        else:
            target.text = source.text
        return target

    return copy(element, None)


def flatten(element: etree._Element) -> bytes:
    """``element`` as SII signs it: no whitespace between tags, no namespace declarations, ISO-8859-1.

    Text is escaped as XML requires (``&amp;``, ``&lt;``, ``&gt;``); characters outside ISO-8859-1 become
    character references.
    """
    flat: bytes = etree.tostring(plain_copy(element), encoding="ISO-8859-1", xml_declaration=False)
    return flat


# --- parsing --------------------------------------------------------------------------------------------


def parse_xml(data: bytes, what: str) -> etree._Element:
    """Parse an untrusted SII file. Files without an encoding declaration are often ISO-8859-1 in practice."""
    try:
        try:
            return etree.fromstring(data, _PARSER)
        except etree.XMLSyntaxError:
            if b"encoding=" in data[:100]:
                raise
            return etree.fromstring(data, _LATIN1_PARSER)
    except etree.XMLSyntaxError as exc:
        # The parser's position is enough: its own wording ("Start tag expected...") helps nobody.
        line = getattr(exc, "lineno", None)
        where = f" (broken at line {line})" if line and data.lstrip()[:1] == b"<" else ""
        raise InvalidCafError(
            f"the {what} is not an XML file as SII issues them{where}: download it again from SII"
        ) from None


def parse_caf(data: bytes) -> Caf:
    """Read a CAF file (``<AUTORIZACION>``, or a bare ``<CAF>`` which then has no private key)."""
    root = parse_xml(data, "CAF file")
    name = local_name(root)
    if name == "CAF":
        return parse_caf_element(root)
    if name != "AUTORIZACION":
        raise InvalidCafError(f"this is not a CAF file: its root element is <{name}>, not <AUTORIZACION>")
    caf_element = _child(root, "CAF", "<AUTORIZACION>")
    private_key = _private_key(root)
    caf = parse_caf_element(caf_element, private_key)
    public_pem = _text(root, "RSAPUBK")
    if public_pem:
        try:
            public = serialization.load_pem_public_key(public_pem.strip().encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise InvalidCafError("the CAF's public key (RSAPUBK) is damaged") from None
        if (
            not isinstance(public, rsa.RSAPublicKey)
            or public.public_numbers() != caf.public_key.public_numbers()
        ):
            raise InvalidCafError(
                "the CAF's public key (RSAPUBK) does not match its RSAPK: the file is damaged"
            )
    return caf


def parse_caf_element(element: etree._Element, private_key: rsa.RSAPrivateKey | None = None) -> Caf:
    """Read a ``<CAF>`` element, e.g. the one embedded in a TED (namespaced or not)."""
    plain = plain_copy(element)
    if local_name(plain) != "CAF":
        raise InvalidCafError(f"expected a <CAF> element, found <{local_name(plain)}>")
    da = _child(plain, "DA", "<CAF>")
    rng = _child(da, "RNG", "<DA>")
    rsapk = _child(da, "RSAPK", "<DA>")
    try:
        rut = normalize(_required_text(da, "RE"))
    except ValidationError as exc:
        raise InvalidCafError(f"the CAF's RUT is not valid: {exc.message}") from None
    razon_social = _required_text(da, "RS")
    doc_type = _int(da, "TD")
    first, last = _int(rng, "D"), _int(rng, "H")
    try:
        authorized = date.fromisoformat(_required_text(da, "FA"))
    except ValueError:
        raise InvalidCafError(
            "the CAF's authorization date (FA) is not a date of the form AAAA-MM-DD"
        ) from None
    idk = _int(da, "IDK")
    modulus = int.from_bytes(_base64(rsapk, "M"), "big")
    exponent = int.from_bytes(_base64(rsapk, "E"), "big")
    try:
        public_key = rsa.RSAPublicNumbers(exponent, modulus).public_key()
    except ValueError:
        raise InvalidCafError("the CAF's public key (RSAPK) is not a valid RSA key") from None
    frma = _child(plain, "FRMA", "<CAF>")
    if frma.get("algoritmo") != "SHA1withRSA":
        raise InvalidCafError(f"the CAF's signature algorithm {frma.get('algoritmo')!r} is not SHA1withRSA")
    signature = _base64(plain, "FRMA")
    if private_key is not None and private_key.public_key().public_numbers() != public_key.public_numbers():
        raise InvalidCafError(
            "the CAF's private key (RSASK) does not match its public key (RSAPK): the file is damaged"
        )
    if first < 1 or last < first:
        raise InvalidCafError(f"the CAF's folio range {first}-{last} is not valid")
    return Caf(
        rut=rut,
        razon_social=razon_social,
        doc_type=doc_type,
        first=first,
        last=last,
        authorized=authorized,
        idk=idk,
        public_key=public_key,
        private_key=private_key,
        xml=etree.tostring(element, encoding="UTF-8", with_tail=False),
        frma=signature,
    )


def _private_key(root: etree._Element) -> rsa.RSAPrivateKey | None:
    pem = _text(root, "RSASK")
    if not pem:
        return None
    try:
        key = serialization.load_pem_private_key(pem.strip().encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError):
        raise InvalidCafError("the CAF's private key (RSASK) is damaged or not a PEM key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidCafError("the CAF's private key (RSASK) is not an RSA key")
    return key


def _child(parent: etree._Element, name: str, where: str) -> etree._Element:
    for child in parent:
        if isinstance(child.tag, str) and etree.QName(child).localname == name:
            return child
    raise InvalidCafError(f"the CAF is incomplete: {where} has no <{name}>")


def _text(parent: etree._Element, name: str) -> str | None:
    for child in parent:
        if isinstance(child.tag, str) and etree.QName(child).localname == name:
            return child.text or ""
    return None


def _required_text(parent: etree._Element, name: str) -> str:
    text = _text(parent, name)
    if not text or not text.strip():
        raise InvalidCafError(f"the CAF is incomplete: <{name}> is missing or empty")
    return text.strip()


def _int(parent: etree._Element, name: str) -> int:
    text = _required_text(parent, name)
    if not text.isdigit():
        raise InvalidCafError(f"the CAF's <{name}> is not a number: {text!r}")
    return int(text)


def _base64(parent: etree._Element, name: str) -> bytes:
    try:
        return base64.b64decode("".join(_required_text(parent, name).split()), validate=True)
    except binascii.Error:
        raise InvalidCafError(f"the CAF's <{name}> is not valid base64") from None


# --- verification ---------------------------------------------------------------------------------------


def verify_caf_signature(caf: Caf, authority_keys: Mapping[int, rsa.RSAPublicKey]) -> None:
    """Check FRMA with the authority key numbered IDK."""
    key = authority_keys.get(caf.idk)
    if key is None:
        known = ", ".join(str(idk) for idk in sorted(authority_keys)) or "none"
        raise InvalidCafError(
            f"the CAF is signed with SII key number {caf.idk}, which is not one of the known keys ({known}): "
            "it comes from another environment (certification vs production) or not from SII",
            idk=caf.idk,
        )
    try:
        key.verify(caf.frma, caf.signed_data(), padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 (SII's algorithm)
    except InvalidSignature:
        raise InvalidCafError(
            f"the CAF's signature (FRMA) does not verify with SII key {caf.idk}: "
            "the file was altered or was not issued by SII",
            idk=caf.idk,
        ) from None


def verify_caf(
    caf: Caf,
    authority_keys: Mapping[int, rsa.RSAPublicKey],
    *,
    rut: str,
    doc_type: int,
    today: date,
) -> None:
    """Check that ``caf`` is SII's, for this company and document type, sane, and not expired on ``today``."""
    verify_caf_signature(caf, authority_keys)
    company = normalize(rut)
    if caf.rut != company:
        raise InvalidCafError(
            f"the CAF is for RUT {format_rut(caf.rut)}, not this company's {format_rut(company)}",
            caf_rut=caf.rut,
            rut=company,
        )
    if caf.doc_type != doc_type:
        raise InvalidCafError(
            f"the CAF is for document type {doc_type_name(caf.doc_type)}, not {doc_type_name(doc_type)}",
            caf_doc_type=caf.doc_type,
            doc_type=doc_type,
        )
    if caf.first < 1 or caf.last < caf.first:
        raise InvalidCafError(f"the CAF's folio range {caf.first}-{caf.last} is not valid")
    expires = caf.expires
    if expires is not None and today >= expires:
        raise InvalidCafError(
            f"the CAF for folios {caf.first}-{caf.last} of {doc_type_name(caf.doc_type)} was authorized on "
            f"{caf.authorized.isoformat()} and expired on {expires.isoformat()} (SII allows "
            f"{VALIDITY_MONTHS} months for this document type): ask SII for new folios and void the "
            "unused ones",
            expired_on=expires.isoformat(),
        )
