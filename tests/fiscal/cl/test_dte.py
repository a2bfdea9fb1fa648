from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree

from fiscal.certificates import Signer
from fiscal.cl.authority_keys import DemoAuthority
from fiscal.cl.caf import Caf, flatten, parse_caf
from fiscal.cl.dte import DocLine, DocumentInput, DteInputError, Receiver, Reference, build_document
from fiscal.cl.schemas import SiiSchemas
from fiscal.cl.ted import verify_ted
from fiscal.errors import FiscalError, InvalidCafError
from fiscal.xmldsig import verify_enveloped
from schema.errors import StorehubError
from tests.fiscal.cl.conftest import DS_NS, ISSUE_DATE, LINES, SII_NS, STAMPED_AT

Build = Callable[..., etree._Element]
MakeInput = Callable[..., DocumentInput]


def names(element: etree._Element) -> list[str]:
    return [etree.QName(child).localname for child in element]


def text(element: etree._Element, path: str) -> str:
    found = element.find("/".join(f"{{{SII_NS}}}{part}" for part in path.split("/")))
    assert found is not None, path
    return found.text or ""


def test_boleta_follows_the_envio_boleta_schema(
    build: Build, schemas: SiiSchemas, authority: DemoAuthority
) -> None:
    dte = build(39, 1)
    assert dte.tag == f"{{{SII_NS}}}DTE" and dte.get("version") == "1.0"
    assert dte.nsmap == {None: SII_NS, "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
    assert names(dte) == ["Documento", "Signature"]
    documento = dte[0]
    assert documento.get("ID") == "T39F1"
    assert names(documento) == ["Encabezado", "Detalle", "Detalle", "Detalle", "TED", "TmstFirma"]
    header = documento[0]
    assert names(header) == ["IdDoc", "Emisor", "Receptor", "Totales"]
    assert names(header[0]) == ["TipoDTE", "Folio", "FchEmis", "IndServicio"]
    assert text(documento, "Encabezado/IdDoc/IndServicio") == "3"
    assert names(header[1]) == [
        "RUTEmisor", "RznSocEmisor", "GiroEmisor", "CdgSIISucur", "DirOrigen", "CmnaOrigen", "CiudadOrigen",
    ]  # fmt: skip
    assert text(documento, "Encabezado/Receptor/RUTRecep") == "66666666-6"
    # 1.25 kg x 1990 = 2487.5 -> 2488; 2 x 1090 = 2180 - 10 % (218) = 1962; exempt 800
    assert [text(line, "MontoItem") for line in documento.findall(f"{{{SII_NS}}}Detalle")] == [
        "2488",
        "1962",
        "800",
    ]
    totals = {etree.QName(child).localname: child.text for child in header[3]}
    assert totals == {
        "MntNeto": "3739",
        "MntExe": "800",
        "IVA": "711",
        "MntTotal": "5250",
    }  # 4450/1.19=3739.5
    assert text(documento, "Detalle/QtyItem") == "1.25"
    assert schemas.validate(dte) == []
    assert verify_enveloped(dte) is not None
    ted = verify_ted(documento.find(f"{{{SII_NS}}}TED"), authority.keys)
    assert (ted.issuer_rut, ted.doc_type, ted.folio, ted.total) == ("76086428-5", 39, 1, 5250)
    assert (ted.receiver_rut, ted.receiver_name, ted.first_item) == (
        "66666666-6",
        "Consumidor final",
        "Pan batido",
    )
    assert ted.timestamp == STAMPED_AT
    assert text(documento, "TmstFirma") == "2025-03-20T10:15:30"


def test_factura_follows_dte_v10(build: Build, schemas: SiiSchemas) -> None:
    dte = build(33, 2)
    documento = dte[0]
    header = documento[0]
    assert names(header[0]) == ["TipoDTE", "Folio", "FchEmis", "FmaPago"]
    assert text(documento, "Encabezado/IdDoc/FmaPago") == "1"
    assert names(header[1]) == [
        "RUTEmisor", "RznSoc", "GiroEmis", "CorreoEmisor", "Acteco", "Acteco", "CdgSIISucur", "DirOrigen",
        "CmnaOrigen", "CiudadOrigen",
    ]  # fmt: skip
    assert names(header[2]) == [
        "RUTRecep", "RznSocRecep", "GiroRecep", "DirRecep", "CmnaRecep", "CiudadRecep",
    ]  # fmt: skip
    totals = {etree.QName(child).localname: child.text for child in header[3]}
    # net prices: 2488 + 1962 = 4450 net, IVA round(845.5) = 846
    assert totals == {"MntNeto": "4450", "MntExe": "800", "TasaIVA": "19", "IVA": "846", "MntTotal": "6096"}
    second = documento.findall(f"{{{SII_NS}}}Detalle")[1]
    assert names(second) == [
        "NroLinDet", "NmbItem", "QtyItem", "UnmdItem", "PrcItem", "DescuentoPct", "DescuentoMonto",
        "MontoItem",
    ]  # fmt: skip
    assert names(documento.findall(f"{{{SII_NS}}}Detalle")[2])[1] == "IndExe"
    assert schemas.validate(dte) == []


def test_factura_from_till_prices_has_the_tills_total(build: Build, schemas: SiiSchemas) -> None:
    dte = build(33, 3, prices_include_iva=True)
    documento = dte[0]
    assert text(documento, "Encabezado/Totales/MntTotal") == "5250"  # what the boleta of the same sale says
    assert text(documento, "Encabezado/Totales/MntNeto") == "3739"
    assert text(documento, "Encabezado/Totales/IVA") == "711"
    lines = documento.findall(f"{{{SII_NS}}}Detalle")
    assert sum(int(text(line, "MontoItem")) for line in lines[:2]) == 3739
    assert text(lines[0], "PrcItem") == "1672"  # 2090 net for 1.25 kg
    assert schemas.validate(dte) == []


def test_nota_de_credito_refers_to_what_it_corrects(
    build: Build, schemas: SiiSchemas, buyer: Receiver
) -> None:
    dte = build(61, 4)
    documento = dte[0]
    assert names(documento)[-4:] == ["Detalle", "Referencia", "TED", "TmstFirma"]
    reference = documento.find(f"{{{SII_NS}}}Referencia")
    assert names(reference) == ["NroLinRef", "TpoDocRef", "FolioRef", "FchRef", "CodRef", "RazonRef"]
    assert [child.text for child in reference] == [
        "1",
        "33",
        "7",
        "2025-03-18",
        "3",
        "Devolución de mercadería",
    ]
    assert schemas.validate(dte) == []
    annul = build(
        61,
        5,
        references=[
            Reference(doc_type=33, folio="7", date=date(2025, 3, 18), cod_ref=1, referenced_total=6096)
        ],
    )
    assert text(annul[0], "Encabezado/Totales/MntTotal") == "6096"
    assert schemas.validate(annul) == []
    # a boleta's return: the anonymous buyer, the till's gross prices
    boleta_return = build(
        61,
        6,
        receiver=None,
        prices_include_iva=True,
        references=[Reference(doc_type=39, folio="1", date=ISSUE_DATE, cod_ref=1, referenced_total=5250)],
    )
    assert text(boleta_return[0], "Encabezado/Receptor/RUTRecep") == "66666666-6"
    assert schemas.validate(boleta_return) == []


def test_ted_texts_are_cut_and_time_is_chile_local(
    make_input: MakeInput, cafs: dict[int, Caf], signer: Signer
) -> None:
    long_name = "Sociedad Comercializadora de Productos Alimenticios del Sur Limitada"
    receiver = Receiver(
        rut="76399752-9", razon_social=long_name, giro="Comercio", address="Calle 1", comuna="Maipú"
    )
    doc = make_input(33, 20, receiver=receiver, lines=[DocLine(name="x" * 80, quantity=1000, unit_price=100)])
    dte = build_document(doc, cafs[33], signer, datetime(2025, 3, 20, 13, 15, 30, tzinfo=UTC))
    ted = verify_ted(dte.find(f"{{{SII_NS}}}Documento/{{{SII_NS}}}TED"))
    assert ted.receiver_name == long_name[:40] and ted.first_item == "x" * 40
    assert text(dte[0], "Encabezado/Receptor/RznSocRecep") == long_name
    assert text(dte[0], "TmstFirma") == "2025-03-20T10:15:30"  # UTC-3 in March (summer time)


def test_documents_signatures_verify_with_xmlsec1(
    build: Build, tmp_path: Path, xmlsec1: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    for doc_type, folio in ((39, 30), (33, 30), (61, 30)):
        path = tmp_path / f"{doc_type}.xml"
        path.write_bytes(etree.tostring(build(doc_type, folio), encoding="ISO-8859-1", xml_declaration=True))
        result = xmlsec1(path, node_xpath="/*/*[local-name()='Signature']", id_node="Documento")
        assert result.returncode == 0, result.stderr
        assert "OK" in result.stdout + result.stderr
        tampered = tmp_path / f"{doc_type}-tampered.xml"
        tampered.write_bytes(path.read_bytes().replace(b"<MontoItem>800<", b"<MontoItem>801<"))
        result = xmlsec1(tampered, node_xpath="/*/*[local-name()='Signature']", id_node="Documento")
        assert result.returncode != 0
        assert "digest" in result.stderr.lower() or "FAIL" in result.stdout + result.stderr


def test_frmt_verifies_with_openssl_over_the_flattened_dd(
    build: Build, cafs: dict[int, Caf], tmp_path: Path
) -> None:
    openssl = shutil.which("openssl")
    assert openssl is not None, "openssl is not installed (scripts/system-deps.sh installs it)"
    dte = build(39, 31)
    ted = dte.find(f"{{{SII_NS}}}Documento/{{{SII_NS}}}TED")
    dd, frmt = ted.find(f"{{{SII_NS}}}DD"), ted.find(f"{{{SII_NS}}}FRMT")
    flat = flatten(dd)
    assert flat.startswith(b"<DD><RE>76086428-5</RE><TD>39</TD><F>31</F>") and b"xmlns" not in flat
    (tmp_path / "dd.bin").write_bytes(flat)
    (tmp_path / "frmt.bin").write_bytes(base64.b64decode(frmt.text))
    (tmp_path / "caf.pem").write_bytes(
        cafs[39].public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )

    def dgst(data: str) -> subprocess.CompletedProcess[str]:
        command = [openssl, "dgst", "-sha1", "-verify", "caf.pem", "-signature", "frmt.bin", data]
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False)

    assert dgst("dd.bin").stdout.strip() == "Verified OK"
    (tmp_path / "altered.bin").write_bytes(flat.replace(b"<MNT>5250</MNT>", b"<MNT>5251</MNT>"))
    assert dgst("altered.bin").returncode != 0


@pytest.fixture(scope="module")
def foreign_cafs(authority: DemoAuthority, other_rut: str) -> dict[str, Caf]:
    return {
        "other_rut": parse_caf(authority.issue_caf(other_rut, "OTRA EMPRESA", 39, 1, 100, date(2025, 3, 1))),
        "expired_33": parse_caf(authority.issue_caf("76086428-5", "DONA ROSA", 33, 1, 100, date(2024, 6, 1))),
    }


@pytest.mark.parametrize(
    ("doc_type", "changes", "caf_key", "error", "message"),
    [
        (39, {"lines": []}, None, DteInputError, "at least one line"),
        (33, {"lines": LINES * 21}, None, DteInputError, "at most 60 lines, this one has 63"),
        (39, {"folio": 501}, None, InvalidCafError, "folio 501 is outside the CAF's range 1-500"),
        (39, {}, 33, InvalidCafError, r"the CAF is for document type 33 \(factura electrónica\), not 39"),
        (
            39,
            {},
            "other_rut",
            InvalidCafError,
            "the CAF is for RUT 76.354.771-K, not the emitter's 76.086.428-5",
        ),
        (33, {}, "expired_33", InvalidCafError, "expired on 2024-12-01, before the issue date 2025-03-20"),
        (33, {"receiver": None}, None, DteInputError, r"a factura \(33\) needs a receiver"),
        (
            33,
            {"receiver": Receiver(rut="96874030-K", razon_social="La Polar")},
            None,
            DteInputError,
            r"needs the receiver's giro, address, comuna",
        ),
        (
            33,
            {
                "receiver": Receiver(
                    rut="66666666-6", razon_social="Consumidor final", giro="x", address="y", comuna="z"
                )
            },
            None,
            DteInputError,
            "cannot be issued to the anonymous buyer",
        ),
        (61, {"references": []}, None, DteInputError, r"must reference the document it annuls or corrects"),
        (
            61,
            {"references": [Reference(doc_type=33, folio="7", date=date(2025, 3, 1))]},
            None,
            DteInputError,
            "cod_ref 1 \\(anula\\), 2 \\(corrige texto\\) or 3 \\(corrige montos\\)",
        ),
        (
            61,
            {
                "references": [
                    Reference(doc_type=61, folio="3", date=date(2025, 3, 1), cod_ref=1, referenced_total=1)
                ]
            },
            None,
            DteInputError,
            r"cannot reference another nota de crédito \(61 folio 3\): "
            r"to undo a credit note, issue a nota de débito",
        ),
        (
            61,
            {"references": [Reference(doc_type=801, folio="OC-1", date=date(2025, 3, 1), cod_ref=3)]},
            None,
            DteInputError,
            "not a document of type 801",
        ),
        (
            61,
            {"references": [Reference(doc_type=33, folio="7", date=date(2025, 3, 1), cod_ref=1)]},
            None,
            DteInputError,
            r"annulling a document \(cod_ref 1\) needs its total",
        ),
        (
            61,
            {
                "references": [
                    Reference(doc_type=33, folio="7", date=date(2025, 3, 1), cod_ref=1, referenced_total=9)
                ]
            },
            None,
            DteInputError,
            "must have its amounts: total 6096 != 9",
        ),
        (
            61,
            {"references": [Reference(doc_type=33, folio="7", date=date(2025, 3, 1), cod_ref=2)]},
            None,
            DteInputError,
            r"corrects text \(cod_ref 2\) carries no amounts",
        ),
        (
            61,
            {
                "references": [
                    Reference(
                        doc_type=33, folio="7", date=date(2025, 3, 1), cod_ref=1, referenced_total=6096
                    ),
                    Reference(doc_type=801, folio="OC-1", date=date(2025, 3, 1)),
                ]
            },
            None,
            DteInputError,
            "must have a single reference",
        ),
        (
            61,
            {"receiver": None},
            None,
            DteInputError,
            r"a nota de crédito \(61\) needs a receiver unless it refers to a boleta",
        ),
        (
            33,
            {"references": [Reference(doc_type=801, folio="OC-1", date=date(2025, 4, 1))]},
            None,
            DteInputError,
            "is dated 2025-04-01, after this document's issue date 2025-03-20",
        ),
        (39, {"prices_include_iva": False}, None, DteInputError, "a boleta's prices include IVA"),
        (
            39,
            {"lines": [DocLine(name="x" * 81, quantity=1000, unit_price=1)]},
            None,
            DteInputError,
            r"\$.lines\[0\].name",
        ),
        (39, {"lines": [DocLine(name="x", quantity=0, unit_price=1)]}, None, DteInputError, "quantity"),
        (
            39,
            {"lines": [DocLine(name="x", quantity=1000, unit_price=10, discount_amount=11)]},
            None,
            StorehubError,
            "exceeds",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    make_input: MakeInput,
    cafs: dict[int, Caf],
    foreign_cafs: dict[str, Caf],
    signer: Signer,
    doc_type: int,
    changes: dict[str, Any],
    caf_key: int | str | None,
    error: type[StorehubError],
    message: str,
) -> None:
    changes = dict(changes)
    caf = foreign_cafs[caf_key] if isinstance(caf_key, str) else cafs[caf_key or doc_type]
    with pytest.raises(error, match=message):
        build_document(make_input(doc_type, changes.pop("folio", 40), **changes), caf, signer, STAMPED_AT)


def test_bad_ruts_are_refused(
    make_input: MakeInput, cafs: dict[int, Caf], signer: Signer, emitter: Any
) -> None:
    bad_emitter = msgspec.structs.replace(emitter, rut="76086428-4")
    with pytest.raises(
        DteInputError, match="the emitter's RUT is not valid: RUT '76086428-4' has a wrong check digit"
    ):
        build_document(make_input(39, 41, emitter=bad_emitter), cafs[39], signer, STAMPED_AT)
    receiver = Receiver(rut="1-2", razon_social="x", giro="x", address="x", comuna="x")
    with pytest.raises(DteInputError, match="the receiver's RUT is not valid"):
        build_document(make_input(33, 41, receiver=receiver), cafs[33], signer, STAMPED_AT)


def test_a_caf_without_private_key_cannot_stamp(
    make_input: MakeInput, cafs: dict[int, Caf], signer: Signer
) -> None:
    with pytest.raises(FiscalError, match="no private key"):
        build_document(make_input(39, 42), replace(cafs[39], private_key=None), signer, STAMPED_AT)


def test_signature_sits_after_documento(build: Build) -> None:
    dte = build(39, 43)
    signature = dte[-1]
    assert signature.tag == f"{{{DS_NS}}}Signature"
    reference = signature.find(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}Reference")
    assert reference.get("URI") == "#T39F43"
