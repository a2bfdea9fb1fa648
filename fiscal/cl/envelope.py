"""SII envelopes: EnvioBOLETA (boletas 39/41) and EnvioDTE (33, 61...), signed, in ISO-8859-1.

::

    <?xml version="1.0" encoding="ISO-8859-1"?>
    <EnvioDTE xmlns="http://www.sii.cl/SiiDte" xmlns:xsi="..." xsi:schemaLocation="... EnvioDTE_v10.xsd"
              version="1.0">
      <SetDTE ID="SetDoc">
        <Caratula version="1.0">RutEmisor RutEnvia RutReceptor FchResol NroResol TmstFirmaEnv
                                SubTotDTE+</Caratula>
        <DTE>…already signed…</DTE>…
      </SetDTE>
      <Signature xmlns="http://www.w3.org/2000/09/xmldsig#">…over #SetDoc…</Signature>
    </EnvioDTE>

The DTEs go in as the bytes they were signed as (each one serialized once, spliced into the envelope's
text), and the SetDTE is signed on the parsed envelope, with ``xmlns:xsi`` in scope as SII computes it;
the envelope's Signature is then spliced in after ``</SetDTE>``, so nothing already signed is
re-serialized. Each DTE still verifies inside the envelope because it declares the same namespaces the
envelope does (see ``fiscal.cl.dte``).

Limits (enforced before anything is signed), from the schemas SII validates uploads against:
``EnvioBOLETA_v11.xsd`` allows at most 500 ``DTE`` per ``SetDTE`` and 2 ``SubTotDTE`` (types 39 and 41);
``EnvioDTE_v10.xsd`` allows 2000 ``DTE`` and 20 ``SubTotDTE``. ``NroResol`` has at most 6 digits (0 is the
certification environment's). One envelope carries one emitter's documents.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from typing import Final

from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from fiscal.certificates import Signer, rut_of
from fiscal.cl.caf import doc_type_name
from fiscal.cl.rut import format_rut, normalize
from fiscal.cl.ted import CHILE
from fiscal.errors import FiscalError
from fiscal.xmldsig import DSIG_NS, sign_enveloped
from schema.errors import ValidationError

SII_NS: Final = "http://www.sii.cl/SiiDte"
XSI_NS: Final = "http://www.w3.org/2001/XMLSchema-instance"
SII_RUT: Final = "60803000-K"  # the receiver of every envelope sent to SII
MAX_BOLETAS_PER_ENVELOPE: Final = 500  # EnvioBOLETA_v11.xsd: <DTE maxOccurs="500">
MAX_DTE_PER_ENVELOPE: Final = 2000  # EnvioDTE_v10.xsd: <DTE maxOccurs="2000">
BOLETA_TYPES: Final = frozenset({39, 41})
DEFAULT_SET_ID: Final = "SetDoc"

_PARSER: Final = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


class EnvelopeError(FiscalError):
    """The documents cannot go together in one envelope as asked."""

    code = "invalid_envelope"


def build_envio_boleta(
    documents: Sequence[etree._Element | bytes],
    emitter_rut: str,
    sender_rut: str,
    resolution_date: date,
    resolution_number: int,
    signer: Signer,
    signed_at: datetime,
    *,
    receiver_rut: str = SII_RUT,
    set_id: str = DEFAULT_SET_ID,
) -> bytes:
    """An ``EnvioBOLETA`` of signed boletas (39/41): at most 500, one emitter."""
    return _build(
        "EnvioBOLETA",
        "EnvioBOLETA_v11.xsd",
        documents,
        emitter_rut=emitter_rut,
        sender_rut=sender_rut,
        receiver_rut=receiver_rut,
        resolution_date=resolution_date,
        resolution_number=resolution_number,
        signer=signer,
        signed_at=signed_at,
        set_id=set_id,
    )


def build_envio_dte(
    documents: Sequence[etree._Element | bytes],
    emitter_rut: str,
    sender_rut: str,
    resolution_date: date,
    resolution_number: int,
    signer: Signer,
    signed_at: datetime,
    *,
    receiver_rut: str = SII_RUT,
    set_id: str = DEFAULT_SET_ID,
) -> bytes:
    """An ``EnvioDTE`` of signed DTEs other than boletas: at most 2000, one emitter. ``receiver_rut`` is
    SII's for an upload, the buyer's when the envelope is sent to them (intercambio)."""
    return _build(
        "EnvioDTE",
        "EnvioDTE_v10.xsd",
        documents,
        emitter_rut=emitter_rut,
        sender_rut=sender_rut,
        receiver_rut=receiver_rut,
        resolution_date=resolution_date,
        resolution_number=resolution_number,
        signer=signer,
        signed_at=signed_at,
        set_id=set_id,
    )


def _rut(value: str, who: str) -> str:
    try:
        return normalize(value)
    except ValidationError as exc:
        raise EnvelopeError(f"the {who} RUT is not valid: {exc.message}") from None


def _build(
    kind: str,
    schema_file: str,
    documents: Sequence[etree._Element | bytes],
    *,
    emitter_rut: str,
    sender_rut: str,
    receiver_rut: str,
    resolution_date: date,
    resolution_number: int,
    signer: Signer,
    signed_at: datetime,
    set_id: str,
) -> bytes:
    emitter, sender, receiver = (
        _rut(emitter_rut, "emitter's"),
        _rut(sender_rut, "sender's"),
        _rut(receiver_rut, "receiver's"),
    )
    holder = rut_of(signer.certificate)
    if holder != sender:
        raise EnvelopeError(
            f"the envelope says it is sent by {format_rut(sender)} (RutEnvia) but it is signed with the "
            f"certificate of {format_rut(holder)}"
        )
    if not 0 <= resolution_number <= 999_999:
        raise EnvelopeError(f"NroResol has at most 6 digits, got {resolution_number}")
    boleta = kind == "EnvioBOLETA"
    limit = MAX_BOLETAS_PER_ENVELOPE if boleta else MAX_DTE_PER_ENVELOPE
    if not documents:
        raise EnvelopeError(f"an {kind} needs at least one document")
    if len(documents) > limit:
        raise EnvelopeError(
            f"an {kind} holds at most {limit} documents ({schema_file}), got {len(documents)}: "
            "send them in several envelopes"
        )

    chunks: list[bytes] = []
    counts: Counter[int] = Counter()
    seen_ids: set[str] = set()
    seen_folios: set[tuple[int, int]] = set()
    for position, document in enumerate(documents, start=1):
        root = etree.fromstring(document, _PARSER) if isinstance(document, bytes) else document
        doc_type, folio, doc_id = _describe(root, position)
        where = f"document {position} ({doc_type} folio {folio})"
        if boleta != (doc_type in BOLETA_TYPES):
            raise EnvelopeError(
                f"{where}: a {doc_type_name(doc_type)} goes in an "
                f"{'EnvioBOLETA' if doc_type in BOLETA_TYPES else 'EnvioDTE'}, not an {kind}"
            )
        rut = (
            root.findtext(
                f"{{{SII_NS}}}Documento/{{{SII_NS}}}Encabezado/{{{SII_NS}}}Emisor/{{{SII_NS}}}RUTEmisor"
            )
            or ""
        ).strip()
        if rut != emitter:
            raise EnvelopeError(
                f"{where} is issued by {rut or 'nobody'}, not by the envelope's emitter {emitter}"
            )
        if doc_id in seen_ids or doc_id == set_id:
            raise EnvelopeError(f"{where}: ID {doc_id!r} is used twice in the envelope")
        if (doc_type, folio) in seen_folios:
            raise EnvelopeError(f"{where} is in the envelope twice")
        seen_ids.add(doc_id)
        seen_folios.add((doc_type, folio))
        counts[doc_type] += 1
        chunks.append(etree.tostring(root, encoding="ISO-8859-1", xml_declaration=False, with_tail=False))

    envelope = etree.Element(f"{{{SII_NS}}}{kind}", nsmap={None: SII_NS, "xsi": XSI_NS})
    envelope.set(f"{{{XSI_NS}}}schemaLocation", f"{SII_NS} {schema_file}")
    envelope.set("version", "1.0")
    set_dte = etree.SubElement(envelope, f"{{{SII_NS}}}SetDTE", ID=set_id)
    caratula = etree.SubElement(set_dte, f"{{{SII_NS}}}Caratula", version="1.0")
    for name, value in (
        ("RutEmisor", emitter),
        ("RutEnvia", sender),
        ("RutReceptor", receiver),
        ("FchResol", resolution_date.isoformat()),
        ("NroResol", str(resolution_number)),
        ("TmstFirmaEnv", _timestamp(signed_at)),
    ):
        etree.SubElement(caratula, f"{{{SII_NS}}}{name}").text = value
    for doc_type in sorted(counts):
        subtotal = etree.SubElement(caratula, f"{{{SII_NS}}}SubTotDTE")
        etree.SubElement(subtotal, f"{{{SII_NS}}}TpoDTE").text = str(doc_type)
        etree.SubElement(subtotal, f"{{{SII_NS}}}NroDTE").text = str(counts[doc_type])
    set_dte.text = "\n"
    caratula.tail = "\n"
    skeleton: bytes = etree.tostring(envelope, encoding="ISO-8859-1", xml_declaration=False)
    head, _, tail = skeleton.partition(b"</SetDTE>")
    body = head + b"\n".join(chunks) + b"\n</SetDTE>"
    text = body + tail  # "</EnvioDTE>" / "</EnvioBOLETA>"

    parsed = etree.fromstring(b'<?xml version="1.0" encoding="ISO-8859-1"?>\n' + text, _PARSER)
    signed = sign_enveloped(parsed, set_id, signer)
    signature = signed[-1]
    if etree.QName(signature).namespace != DSIG_NS:
        raise EnvelopeError("signing the SetDTE did not append a Signature")
    signature_bytes: bytes = etree.tostring(
        signature, encoding="ISO-8859-1", xml_declaration=False, with_tail=False
    )
    return b'<?xml version="1.0" encoding="ISO-8859-1"?>\n' + body + b"\n" + signature_bytes + tail


def _describe(root: etree._Element, position: int) -> tuple[int, int, str]:
    """(TipoDTE, Folio, Documento ID) of a signed DTE in SII's namespace, or a clear refusal."""
    if root.tag != f"{{{SII_NS}}}DTE":
        raise EnvelopeError(f"document {position} is a <{etree.QName(root).text}>, not a <DTE> in {SII_NS}")
    documento = root.find(f"{{{SII_NS}}}Documento")
    if documento is None or not documento.get("ID"):
        raise EnvelopeError(f"document {position} has no <Documento ID=...>")
    if root.find(f"{{{DSIG_NS}}}Signature") is None:
        raise EnvelopeError(f"document {position} ({documento.get('ID')}) is not signed")
    id_doc = f"{{{SII_NS}}}Encabezado/{{{SII_NS}}}IdDoc/{{{SII_NS}}}"
    try:
        doc_type = int(documento.findtext(id_doc + "TipoDTE") or "")
        folio = int(documento.findtext(id_doc + "Folio") or "")
    except ValueError:
        raise EnvelopeError(f"document {position} has no numeric TipoDTE and Folio") from None
    return doc_type, folio, str(documento.get("ID"))


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(CHILE).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat(timespec="seconds")
