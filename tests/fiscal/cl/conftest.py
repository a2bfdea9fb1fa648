"""Fixtures for building and verifying DTEs and envelopes (on top of ``tests/fiscal/conftest.py``).

* ``schemas``      SII's schemas from ``shared/reference/sii/schemas`` (compiled once per session).
* ``cafs``         ``{39: Caf, 33: Caf, 61: Caf}`` for ``company_rut``, folios 1-500, from ``authority``.
* ``emitter`` / ``buyer``  the issuing minimarket and a company buying on factura.
* ``make_input``   ``make_input(doc_type, folio, **changes) -> DocumentInput`` with sensible lines.
* ``build``        ``build(doc_type, folio, **changes) -> signed DTE element``.
* ``cert_pem``     the test certificate as a PEM file, for ``xmlsec1``.
* ``xmlsec1``      ``xmlsec1(path, *, node_xpath, id_node) -> CompletedProcess``: the independent verifier
                   (Debian package ``xmlsec1``, installed by ``make test``); missing, the test fails.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree

from fiscal.certificates import Signer
from fiscal.cl.authority_keys import DemoAuthority
from fiscal.cl.caf import Caf, parse_caf
from fiscal.cl.dte import DocLine, DocumentInput, Emitter, Receiver, Reference, build_document
from fiscal.cl.schemas import SiiSchemas

CAF_AUTHORIZED = date(2025, 3, 3)
ISSUE_DATE = date(2025, 3, 20)
STAMPED_AT = datetime(2025, 3, 20, 10, 15, 30)
SII_NS = "http://www.sii.cl/SiiDte"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"

LINES = [
    DocLine(name="Pan batido", quantity=1250, unit="KG", unit_price=1990),
    DocLine(name="Leche entera 1 L", quantity=2000, unit_price=1090, discount_percent=10),
    DocLine(name="Diario La Tercera", quantity=1000, unit_price=800, exempt=True),
]


@pytest.fixture(scope="session")
def schemas(reference: Path) -> SiiSchemas:
    return SiiSchemas(reference / "sii" / "schemas")


@pytest.fixture(scope="session")
def cafs(authority: DemoAuthority, company_rut: str) -> dict[int, Caf]:
    return {
        doc_type: parse_caf(
            authority.issue_caf(company_rut, "MINIMARKET DONA ROSA LTDA", doc_type, 1, 500, CAF_AUTHORIZED)
        )
        for doc_type in (39, 33, 61)
    }


@pytest.fixture(scope="session")
def emitter(company_rut: str) -> Emitter:
    return Emitter(
        rut=company_rut,
        razon_social="Minimarket Doña Rosa & Cía. Ltda.",
        giro="Venta al por menor de alimentos",
        acteco=[472190, 471100],
        address="Av. Irarrázaval 2840",
        comuna="Ñuñoa",
        city="Santiago",
        branch_code=81234567,
        email="dona.rosa@example.cl",
    )


@pytest.fixture(scope="session")
def buyer() -> Receiver:
    return Receiver(
        rut="96874030-K",
        razon_social="Empresas La Polar S.A.",
        giro="Venta al por menor",
        address="Av. Santa Clara 207",
        comuna="Huechuraba",
        city="Santiago",
    )


@pytest.fixture(scope="session")
def make_input(emitter: Emitter, buyer: Receiver) -> Callable[..., DocumentInput]:
    def make(doc_type: int, folio: int, **changes: Any) -> DocumentInput:
        fields: dict[str, Any] = {
            "doc_type": doc_type,
            "folio": folio,
            "issue_date": ISSUE_DATE,
            "emitter": emitter,
            "lines": LINES,
        }
        if doc_type == 33:
            fields["receiver"] = buyer
        if doc_type == 61:
            fields["receiver"] = buyer
            fields["references"] = [
                Reference(
                    doc_type=33,
                    folio="7",
                    date=date(2025, 3, 18),
                    cod_ref=3,
                    reason="Devolución de mercadería",
                )
            ]
        fields.update(changes)
        return DocumentInput(**fields)

    return make


@pytest.fixture(scope="session")
def build(
    make_input: Callable[..., DocumentInput], cafs: dict[int, Caf], signer: Signer
) -> Callable[..., etree._Element]:
    def build_one(doc_type: int, folio: int, **changes: Any) -> etree._Element:
        return build_document(make_input(doc_type, folio, **changes), cafs[doc_type], signer, STAMPED_AT)

    return build_one


@pytest.fixture(scope="session")
def cert_pem(signer: Signer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cert") / "signer.pem"
    path.write_bytes(signer.certificate.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture
def xmlsec1(cert_pem: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    binary = shutil.which("xmlsec1")
    assert binary is not None, "xmlsec1 is not installed (scripts/system-deps.sh installs it)"

    def run(path: Path, *, node_xpath: str, id_node: str) -> subprocess.CompletedProcess[str]:
        command = [
            binary,
            "--verify",
            "--id-attr:ID",
            f"{SII_NS}:{id_node}",
            "--trusted-pem",
            str(cert_pem),
            "--enabled-reference-uris",
            "same-doc",
            "--node-xpath",
            node_xpath,
            str(path),
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)

    return run
