"""Verify a DTE or an envelope (EnvioDTE / EnvioBOLETA), ours or a supplier's: one verdict per document.

Per document:

* ``schema``: against SII's schema for its type (when :class:`~fiscal.cl.schemas.SiiSchemas` are given);
* ``XMLDSig``: the signature over ``Documento``. Inclusive C14N depends on the namespaces in scope, and
  issuers differ, so the DTE is tried as found (in its envelope, which is what C14N defines), then, if
  that fails, as the standalone document its issuer most likely signed: with SII's namespace added when
  the file lacks it (SII's own samples were signed with ``xmlns="http://www.sii.cl/SiiDte"`` and
  distributed without it), or without the envelope's unused declarations (``xmlns:xsi``) for DTEs signed
  before they were put in the envelope. The verdict says which reading verified. A failure says whether
  the ``Documento`` no longer matches its digest (it was altered) or the signature value itself is wrong;
* ``TED``: FRMT against the public key of the CAF inside the TED, and the CAF's FRMA against SII's keys
  (``authority_keys``, by IDK) when given;
* ``TED vs document``: RE, TD, F, FE, RR, MNT against RUTEmisor, TipoDTE, Folio, FchEmis, RUTRecep,
  MntTotal;
* ``amounts``: the lines add up to the totals and ``MntTotal = MntNeto + MntExe + IVA``, when the document
  uses nothing (global discounts, other taxes, gross amounts) that would make that check incomplete.

For an envelope: its schema, the SetDTE signature, and the Caratula against the documents (SubTotDTE
counts, RutEmisor). :attr:`Verdict.ok` is true only when every check of every part passed.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from fiscal.certificates import holder_name, rut_of
from fiscal.cl.schemas import SII_NS, SiiSchemas, UnreadableXmlError, local_name, with_sii_namespace
from fiscal.cl.ted import verify_ted
from fiscal.errors import FiscalError, InvalidCertificateError
from fiscal.xmldsig import DSIG_NS, verify_enveloped
from schema.errors import StorehubError

ENVELOPES: Final = ("EnvioDTE", "EnvioBOLETA")
_TOTALS_CHECKED: Final = frozenset({"MntNeto", "MntExe", "TasaIVA", "IVA", "MntTotal"})
# Documents whose every line is exempt by their type, IndExe or not (factura/boleta exenta, exports).
_EXEMPT_TYPES: Final = frozenset({"34", "41", "110", "111", "112"})


@dataclass(frozen=True)
class Check:
    name: str  # "schema", "XMLDSig", "TED", "TED vs document", "amounts", "Caratula"
    ok: bool
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.name}: {self.detail}" if self.detail else self.name


@dataclass(frozen=True)
class DocumentVerdict:
    doc_type: int | None
    folio: int | None
    document_id: str | None
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def label(self) -> str:
        kind = self.doc_type if self.doc_type is not None else "?"
        folio = self.folio if self.folio is not None else "?"
        return f"{kind} folio {folio}"

    def line(self) -> str:
        """``OK 33 folio 170 (...)`` or ``FAIL 33 folio 170: XMLDSig: digest mismatch ...``."""
        if self.ok:
            notes = "; ".join(str(check) for check in self.checks)
            return f"OK {self.label}: {notes}"
        return f"FAIL {self.label}: " + "; ".join(str(check) for check in self.checks if not check.ok)


@dataclass(frozen=True)
class Verdict:
    kind: str  # "DTE", "EnvioDTE" or "EnvioBOLETA"
    documents: tuple[DocumentVerdict, ...]
    envelope: tuple[Check, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return (
            bool(self.documents)
            and all(document.ok for document in self.documents)
            and all(check.ok for check in self.envelope)
        )

    def lines(self) -> list[str]:
        lines = [document.line() for document in self.documents]
        if self.kind in ENVELOPES:
            failed = [check for check in self.envelope if not check.ok]
            if failed:
                lines.append(f"FAIL {self.kind}: " + "; ".join(str(check) for check in failed))
            else:
                lines.append(f"OK {self.kind}: " + "; ".join(str(check) for check in self.envelope))
        return lines


def read_document(source: str | Path | bytes) -> etree._Element:
    """Parse a file (path) or bytes; files without an encoding declaration are retried as ISO-8859-1."""
    name = "the input" if isinstance(source, bytes) else str(source)
    if isinstance(source, bytes):
        data = source
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise UnreadableXmlError(f"cannot read {name}: {exc.strerror or exc}") from None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        try:
            return etree.fromstring(data, parser)
        except etree.XMLSyntaxError:
            if b"encoding=" in data[:100]:
                raise
            latin1 = etree.XMLParser(
                resolve_entities=False, no_network=True, load_dtd=False, encoding="ISO-8859-1"
            )
            return etree.fromstring(data, latin1)
    except etree.XMLSyntaxError as exc:
        raise UnreadableXmlError(f"{name} is not well-formed XML: {exc}") from None


def verify_file(
    source: str | Path | bytes,
    *,
    schemas: SiiSchemas | None = None,
    authority_keys: Mapping[int, RSAPublicKey] | None = None,
) -> Verdict:
    """Verify a DTE or envelope file. Raises :class:`UnreadableXmlError` when it is not XML, or is XML
    but not a DTE, EnvioDTE or EnvioBOLETA."""
    root = read_document(source)
    kind = local_name(root)
    if kind == "DTE":
        return Verdict("DTE", (_verify_dte(root, schemas, authority_keys),))
    if kind not in ENVELOPES:
        name = "the input" if isinstance(source, bytes) else str(source)
        raise UnreadableXmlError(f"{name} is a <{kind}>, not a DTE, EnvioDTE or EnvioBOLETA")
    dtes = root.findall("{*}SetDTE/{*}DTE")
    documents = tuple(_verify_dte(dte, schemas, authority_keys) for dte in dtes)
    return Verdict(kind, documents, _envelope_checks(root, documents, schemas))


# --- one document ---------------------------------------------------------------------------------------


def _text(element: etree._Element, path: str) -> str:
    return (element.findtext("/".join(f"{{*}}{part}" for part in path.split("/"))) or "").strip()


def _int(text: str) -> int | None:
    return int(text) if text.lstrip("-").isdigit() else None


def _verify_dte(
    dte: etree._Element, schemas: SiiSchemas | None, authority_keys: Mapping[int, RSAPublicKey] | None
) -> DocumentVerdict:
    documento = dte.find("{*}Documento")
    doc_type = _int(_text(dte, "Documento/Encabezado/IdDoc/TipoDTE"))
    folio = _int(_text(dte, "Documento/Encabezado/IdDoc/Folio"))
    document_id = documento.get("ID") if documento is not None else None
    checks: list[Check] = []
    if schemas is not None:
        checks.append(_schema_check(dte, schemas))  # in place: errors keep the file's line numbers
    checks.append(_signature_check(dte))
    checks.extend(_ted_checks(dte, authority_keys))
    checks.append(_amounts_check(dte))
    return DocumentVerdict(doc_type, folio, document_id, tuple(checks))


def _reparse(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


def _standalone(element: etree._Element) -> etree._Element:
    """``element`` as its own document, with every namespace in scope declared on it (as C14N sees it)."""
    return _reparse(etree.tostring(element))


def _schema_check(root: etree._Element, schemas: SiiSchemas) -> Check:
    try:
        errors = schemas.validate(root)
    except StorehubError as exc:
        return Check("schema", False, exc.message)
    if not errors:
        return Check("schema", True, "valid")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return Check("schema", False, errors[0] + more)


def _readings(dte: etree._Element) -> list[tuple[str, etree._Element]]:
    """The ways the DTE may have been signed (see the module docstring), most literal first."""
    readings = [("", _standalone(dte))]
    if etree.QName(dte).namespace is None:
        note = " (after adding the SiiDte namespace the file lacks)"
        readings.append((note, _reparse(etree.tostring(with_sii_namespace(dte)))))
    elif dte.getparent() is not None:
        note = " (as a standalone DTE, without the envelope's namespace declarations)"
        readings.append((note, _reparse(etree.tostring(deepcopy(dte)))))
    return readings


def _signature_check(dte: etree._Element) -> Check:
    readings = _readings(dte)
    first_error: FiscalError | None = None
    for note, candidate in readings:
        try:
            certificate = verify_enveloped(candidate)
        except FiscalError as exc:
            first_error = first_error or exc
            continue
        try:
            who = f"{holder_name(certificate)} ({rut_of(certificate)})"
        except InvalidCertificateError:
            who = holder_name(certificate)
        return Check("XMLDSig", True, f"signed by {who}{note}")
    assert first_error is not None
    return Check("XMLDSig", False, _diagnose(readings, first_error))


def _digest(element: etree._Element) -> str:
    # Canonicalize as a document of its own: lxml's c14n of a subelement is unreliable (spurious xmlns="").
    canonical = etree.tostring(_standalone(element), method="c14n")
    return base64.b64encode(hashlib.sha1(canonical).digest()).decode("ascii")  # noqa: S324 (XMLDSig's)


def _diagnose(readings: list[tuple[str, etree._Element]], error: FiscalError) -> str:
    """Digest mismatch (the Documento was altered) or a bad signature value (SignedInfo or key)."""
    dte = readings[0][1]
    reference = dte.find(f"{{{DSIG_NS}}}Signature/{{{DSIG_NS}}}SignedInfo/{{{DSIG_NS}}}Reference")
    documento = dte.find("{*}Documento")
    if reference is None or documento is None:
        return error.message
    uri = (reference.get("URI") or "").removeprefix("#")
    expected = "".join((reference.findtext(f"{{{DSIG_NS}}}DigestValue") or "").split())
    if uri != documento.get("ID"):
        return f"the signature covers #{uri}, not this Documento (ID {documento.get('ID')!r})"
    digests = []
    for note, candidate in readings:
        target = candidate.find("{*}Documento")
        digests.append(_digest(target) if target is not None else "")
        if digests[-1] == expected:
            return (
                f"the signature value does not verify{note}: the Documento matches its digest, but "
                "SignedInfo was altered or was signed with another key than the certificate's"
            )
    # A file without SII's namespace was signed with it: its second reading is the one to compare.
    actual = digests[1] if etree.QName(dte).namespace is None and len(digests) > 1 else digests[0]
    return (
        f"digest mismatch: Documento {uri} was changed after it was signed "
        f"(DigestValue {expected}, content hashes to {actual})"
    )


def _ted_checks(dte: etree._Element, authority_keys: Mapping[int, RSAPublicKey] | None) -> list[Check]:
    ted = dte.find("{*}Documento/{*}TED")
    if ted is None:
        return [Check("TED", False, "the document has no TED (timbre electrónico)")]
    try:
        data = verify_ted(ted, authority_keys)
    except StorehubError as exc:
        return [Check("TED", False, exc.message)]
    caf_note = (
        "CAF signed by SII key" if authority_keys is not None else "CAF signature not checked (no SII keys)"
    )
    checks = [Check("TED", True, f"stamp verifies, {caf_note}")]
    header = "Documento/Encabezado/"
    pairs = (
        ("RE", data.issuer_rut, "RUTEmisor", _text(dte, header + "Emisor/RUTEmisor")),
        ("TD", str(data.doc_type), "TipoDTE", _text(dte, header + "IdDoc/TipoDTE")),
        ("F", str(data.folio), "Folio", _text(dte, header + "IdDoc/Folio")),
        ("FE", data.issue_date.isoformat(), "FchEmis", _text(dte, header + "IdDoc/FchEmis")),
        ("RR", data.receiver_rut, "RUTRecep", _text(dte, header + "Receptor/RUTRecep")),
        ("MNT", str(data.total), "MntTotal", _text(dte, header + "Totales/MntTotal")),
    )
    mismatches = [
        f"TED {ted_name} {ted_value} != {name} {value or '(missing)'}"
        for ted_name, ted_value, name, value in pairs
        if ted_value.upper() != value.upper()
    ]
    checks.append(Check("TED vs document", not mismatches, "; ".join(mismatches) or "consistent"))
    return checks


def _amounts_check(dte: etree._Element) -> Check:
    documento = dte.find("{*}Documento")
    totales = dte.find("{*}Documento/{*}Encabezado/{*}Totales")
    if documento is None or totales is None:
        return Check("amounts", False, "the document has no Encabezado/Totales")
    present = {local_name(child) for child in totales if isinstance(child.tag, str)}
    doc_type = _text(dte, "Documento/Encabezado/IdDoc/TipoDTE")
    boleta = doc_type in ("39", "41")
    gross_lines = boleta or _text(dte, "Documento/Encabezado/IdDoc/MntBruto") == "1"
    net_lines = _text(dte, "Documento/Encabezado/IdDoc/IndMntNeto") == "2"
    details = documento.findall("{*}Detalle")
    if (
        present - _TOTALS_CHECKED
        or documento.find("{*}DscRcgGlobal") is not None
        or (gross_lines and not boleta)
        or net_lines
        or any(_text(line, "IndExe") not in ("", "1") for line in details)
    ):
        return Check("amounts", True, "not checked (the document uses fields this check does not model)")
    try:
        neto, exento, iva, total = (
            int(_text(totales, name) or 0) for name in ("MntNeto", "MntExe", "IVA", "MntTotal")
        )
        all_exempt = doc_type in _EXEMPT_TYPES
        affected = sum(
            int(_text(line, "MontoItem")) for line in details if not (all_exempt or _text(line, "IndExe"))
        )
        exempt = sum(int(_text(line, "MontoItem")) for line in details if all_exempt or _text(line, "IndExe"))
    except ValueError:
        return Check("amounts", False, "an amount is not an integer")
    problems = []
    lines_should_be = neto + iva if boleta else neto
    if affected != lines_should_be:
        what = "MntNeto + IVA" if boleta else "MntNeto"
        problems.append(f"the affected lines add up to {affected}, {what} is {lines_should_be}")
    if exempt != exento:
        problems.append(f"the exempt lines add up to {exempt}, MntExe is {exento}")
    if neto + exento + iva != total:
        problems.append(
            f"MntNeto {neto} + MntExe {exento} + IVA {iva} = {neto + exento + iva}, MntTotal is {total}"
        )
    return Check("amounts", not problems, "; ".join(problems) or "lines and totals add up")


# --- the envelope ---------------------------------------------------------------------------------------


def _envelope_checks(
    root: etree._Element, documents: tuple[DocumentVerdict, ...], schemas: SiiSchemas | None
) -> tuple[Check, ...]:
    checks: list[Check] = []
    if schemas is not None:
        checks.append(_schema_check(root, schemas))
    try:
        certificate = verify_enveloped(root)
        checks.append(Check("SetDTE XMLDSig", True, f"signed by {holder_name(certificate)}"))
    except FiscalError as exc:
        checks.append(Check("SetDTE XMLDSig", False, _diagnose_set(root, exc)))
    checks.append(_caratula_check(root, documents))
    return tuple(checks)


def _diagnose_set(root: etree._Element, error: FiscalError) -> str:
    reference = root.find(f"{{{DSIG_NS}}}Signature/{{{DSIG_NS}}}SignedInfo/{{{DSIG_NS}}}Reference")
    set_dte = root.find("{*}SetDTE")
    if reference is None or set_dte is None:
        return error.message
    expected = "".join((reference.findtext(f"{{{DSIG_NS}}}DigestValue") or "").split())
    actual = _digest(set_dte)
    if actual != expected:
        return (
            "digest mismatch: the SetDTE was changed after it was signed "
            f"(DigestValue {expected}, content hashes to {actual})"
        )
    return f"the signature value does not verify: {error.message}"


def _caratula_check(root: etree._Element, documents: tuple[DocumentVerdict, ...]) -> Check:
    caratula = root.find("{*}SetDTE/{*}Caratula")
    if caratula is None:
        return Check("Caratula", False, "the envelope has no Caratula")
    declared: Counter[int] = Counter()
    for subtotal in caratula.findall("{*}SubTotDTE"):
        kind, count = _int(_text(subtotal, "TpoDTE")), _int(_text(subtotal, "NroDTE"))
        if kind is None or count is None:
            return Check("Caratula", False, "a SubTotDTE has no numeric TpoDTE/NroDTE")
        declared[kind] += count
    found = Counter(document.doc_type for document in documents if document.doc_type is not None)
    problems = [
        f"SubTotDTE says {declared[kind]} of type {kind}, the envelope holds {found[kind]}"
        for kind in sorted(set(declared) | set(found))
        if declared[kind] != found[kind]
    ]
    emitter = _text(caratula, "RutEmisor")
    others = sorted(
        {_text(dte, "Documento/Encabezado/Emisor/RUTEmisor") for dte in root.findall("{*}SetDTE/{*}DTE")}
        - {emitter}
    )
    if others:
        problems.append(f"documents issued by {', '.join(others)} in an envelope of {emitter}")
    return Check("Caratula", not problems, "; ".join(problems) or f"{_count(len(documents))} as declared")


def _count(number: int) -> str:
    return f"{number} document" + ("" if number == 1 else "s")


__all__ = ["SII_NS", "Check", "DocumentVerdict", "Verdict", "read_document", "verify_file"]
