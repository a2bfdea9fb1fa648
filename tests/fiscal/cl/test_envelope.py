from __future__ import annotations

import subprocess
from collections.abc import Callable
from copy import deepcopy
from datetime import date, datetime
from pathlib import Path

import pytest
from lxml import etree

from fiscal.certificates import Signer
from fiscal.cl.envelope import EnvelopeError, build_envio_boleta, build_envio_dte
from fiscal.cl.schemas import SiiSchemas
from fiscal.xmldsig import verify_enveloped
from tests.fiscal.cl.conftest import DS_NS, SII_NS

Build = Callable[..., etree._Element]
Xmlsec1 = Callable[..., subprocess.CompletedProcess[str]]
RESOLUTION = date(2024, 8, 1)
SIGNED_AT = datetime(2025, 3, 20, 10, 30, 0)


@pytest.fixture(scope="module")
def boletas(build: Build) -> list[etree._Element]:
    return [build(39, folio) for folio in (101, 102, 103)]


@pytest.fixture(scope="module")
def dtes(build: Build) -> list[etree._Element]:
    return [build(33, 101), build(61, 101)]


@pytest.fixture(scope="module")
def envio_boleta(boletas: list[etree._Element], company_rut: str, signer: Signer) -> bytes:
    return build_envio_boleta(boletas, company_rut, company_rut, RESOLUTION, 0, signer, SIGNED_AT)


@pytest.fixture(scope="module")
def envio_dte(dtes: list[etree._Element], company_rut: str, signer: Signer) -> bytes:
    return build_envio_dte(dtes, company_rut, company_rut, RESOLUTION, 80, signer, SIGNED_AT)


def caratula(envelope: bytes) -> dict[str, str]:
    root = etree.fromstring(envelope)
    element = root.find(f"{{{SII_NS}}}SetDTE/{{{SII_NS}}}Caratula")
    return {etree.QName(child).localname: child.text or "" for child in element if not len(child)}


def subtotals(envelope: bytes) -> list[tuple[str, str]]:
    root = etree.fromstring(envelope)
    return [
        (sub.findtext(f"{{{SII_NS}}}TpoDTE"), sub.findtext(f"{{{SII_NS}}}NroDTE"))
        for sub in root.iterfind(f"{{{SII_NS}}}SetDTE/{{{SII_NS}}}Caratula/{{{SII_NS}}}SubTotDTE")
    ]


def test_envio_boleta_validates_against_the_official_schema(
    envio_boleta: bytes, schemas: SiiSchemas, company_rut: str
) -> None:
    assert envio_boleta.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<EnvioBOLETA ')
    assert schemas.validate(envio_boleta) == []
    assert caratula(envio_boleta) == {
        "RutEmisor": company_rut,
        "RutEnvia": company_rut,
        "RutReceptor": "60803000-K",
        "FchResol": "2024-08-01",
        "NroResol": "0",
        "TmstFirmaEnv": "2025-03-20T10:30:00",
    }
    assert subtotals(envio_boleta) == [("39", "3")]
    assert "Ñuñoa".encode("latin-1") in envio_boleta  # ISO-8859-1, not character references


def test_envio_dte_validates_against_the_official_schema(envio_dte: bytes, schemas: SiiSchemas) -> None:
    assert envio_dte.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<EnvioDTE ')
    assert schemas.validate(envio_dte) == []
    assert subtotals(envio_dte) == [("33", "1"), ("61", "1")]
    assert caratula(envio_dte)["NroResol"] == "80"


@pytest.mark.parametrize("which", ["boleta", "dte"])
def test_documents_go_in_unchanged_and_every_signature_verifies(
    which: str,
    envio_boleta: bytes,
    envio_dte: bytes,
    boletas: list[etree._Element],
    dtes: list[etree._Element],
) -> None:
    envelope, documents = (envio_boleta, boletas) if which == "boleta" else (envio_dte, dtes)
    for document in documents:
        assert etree.tostring(document, encoding="ISO-8859-1", xml_declaration=False) in envelope
    root = etree.fromstring(envelope)
    assert root.nsmap == {None: SII_NS, "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
    assert etree.QName(root[-1]).localname == "Signature" and root[-1].nsmap[None] == DS_NS
    inside = root.findall(f"{{{SII_NS}}}SetDTE/{{{SII_NS}}}DTE")
    assert len(inside) == len(documents)
    for dte in inside:
        verify_enveloped(dte)  # in place: C14N with the envelope's namespaces in scope
    reference = root[-1].find(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}Reference")
    assert reference.get("URI") == "#SetDoc"
    verify_enveloped(root)


def test_xmlsec1_accepts_the_envelope_and_each_document_in_it(
    envio_boleta: bytes, envio_dte: bytes, tmp_path: Path, xmlsec1: Xmlsec1
) -> None:
    for name, envelope, count in (("boleta", envio_boleta, 3), ("dte", envio_dte, 2)):
        path = tmp_path / f"{name}.xml"
        path.write_bytes(envelope)
        result = xmlsec1(path, node_xpath="/*/*[local-name()='Signature']", id_node="SetDTE")
        assert result.returncode == 0, result.stderr
        for position in range(1, count + 1):
            xpath = (
                f"/*/*[local-name()='SetDTE']/*[local-name()='DTE'][{position}]/*[local-name()='Signature']"
            )
            result = xmlsec1(path, node_xpath=xpath, id_node="Documento")
            assert result.returncode == 0, (position, result.stderr)


def test_xmlsec1_rejects_an_altered_envelope(envio_dte: bytes, tmp_path: Path, xmlsec1: Xmlsec1) -> None:
    path = tmp_path / "altered.xml"
    path.write_bytes(envio_dte.replace(b"<NroResol>80<", b"<NroResol>81<"))
    assert xmlsec1(path, node_xpath="/*/*[local-name()='Signature']", id_node="SetDTE").returncode != 0
    path.write_bytes(envio_dte.replace(b"<MontoItem>800<", b"<MontoItem>801<", 1))
    xpath = "/*/*[local-name()='SetDTE']/*[local-name()='DTE'][1]/*[local-name()='Signature']"
    assert xmlsec1(path, node_xpath=xpath, id_node="Documento").returncode != 0
    assert xmlsec1(path, node_xpath="/*/*[local-name()='Signature']", id_node="SetDTE").returncode != 0


def test_documents_given_as_bytes_in_another_encoding(
    boletas: list[etree._Element], company_rut: str, signer: Signer, schemas: SiiSchemas
) -> None:
    as_utf8 = etree.tostring(boletas[0], encoding="UTF-8", xml_declaration=True)
    envelope = build_envio_boleta([as_utf8], company_rut, company_rut, RESOLUTION, 0, signer, SIGNED_AT)
    assert schemas.validate(envelope) == []
    verify_enveloped(etree.fromstring(envelope).find(f"{{{SII_NS}}}SetDTE/{{{SII_NS}}}DTE"))


def test_envelope_limits_come_from_the_schemas(
    boletas: list[etree._Element], dtes: list[etree._Element], company_rut: str, signer: Signer
) -> None:
    with pytest.raises(
        EnvelopeError, match=r"an EnvioBOLETA holds at most 500 documents \(EnvioBOLETA_v11.xsd\)"
    ):
        build_envio_boleta(boletas[:1] * 501, company_rut, company_rut, RESOLUTION, 0, signer, SIGNED_AT)
    with pytest.raises(EnvelopeError, match=r"an EnvioDTE holds at most 2000 documents \(EnvioDTE_v10.xsd\)"):
        build_envio_dte(dtes[:1] * 2001, company_rut, company_rut, RESOLUTION, 0, signer, SIGNED_AT)
    with pytest.raises(EnvelopeError, match="needs at least one document"):
        build_envio_dte([], company_rut, company_rut, RESOLUTION, 0, signer, SIGNED_AT)


def test_envelope_refusals(
    boletas: list[etree._Element],
    dtes: list[etree._Element],
    company_rut: str,
    other_rut: str,
    signer: Signer,
) -> None:
    def boleta(documents: list[etree._Element], **changes: object) -> bytes:
        arguments: dict[str, object] = {
            "emitter_rut": company_rut,
            "sender_rut": company_rut,
            "resolution_date": RESOLUTION,
            "resolution_number": 0,
            "signer": signer,
            "signed_at": SIGNED_AT,
        }
        arguments.update(changes)
        return build_envio_boleta(documents, **arguments)  # type: ignore[arg-type]

    with pytest.raises(
        EnvelopeError, match=r"a 33 \(factura electrónica\) goes in an EnvioDTE, not an EnvioBOLETA"
    ):
        boleta([dtes[0]])
    with pytest.raises(
        EnvelopeError, match=r"a 39 \(boleta electrónica\) goes in an EnvioBOLETA, not an EnvioDTE"
    ):
        build_envio_dte(boletas[:1], company_rut, company_rut, RESOLUTION, 0, signer, SIGNED_AT)
    with pytest.raises(
        EnvelopeError, match=f"is issued by {company_rut}, not by the envelope's emitter {other_rut}"
    ):
        boleta(boletas, emitter_rut=other_rut)
    with pytest.raises(
        EnvelopeError, match=r"sent by 76.354.771-K \(RutEnvia\) but it is signed with the certificate"
    ):
        boleta(boletas, sender_rut=other_rut)
    with pytest.raises(EnvelopeError, match=r"document 2 \(39 folio 101\): ID 'T39F101' is used twice"):
        boleta([boletas[0], boletas[0]])
    unsigned = deepcopy(boletas[0])
    unsigned.remove(unsigned.find(f"{{{DS_NS}}}Signature"))
    with pytest.raises(EnvelopeError, match=r"document 1 \(T39F101\) is not signed"):
        boleta([unsigned])
    with pytest.raises(EnvelopeError, match="NroResol has at most 6 digits"):
        boleta(boletas, resolution_number=1_000_000)
    with pytest.raises(EnvelopeError, match="the emitter's RUT is not valid"):
        boleta(boletas, emitter_rut="12.345.678-0")
    with pytest.raises(EnvelopeError, match="is a <factura>, not a <DTE>"):
        boleta([etree.fromstring(b"<factura/>")])
