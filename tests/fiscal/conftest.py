"""Fixtures for the fiscal tests: SII's reference files and key material made once per session.

* ``reference``     the directory ``shared/reference`` next to the repository (read, never copied). Missing:
                    the test fails and says where it looked.
* ``sii_keys``      ``{100: key, 300: key}`` from SII's ``certificates/100.cer`` and ``300.cer``.
* ``sii_samples``   ``{file name: bytes}`` of SII's accepted sample DTEs, exactly as published.
* ``authority``     a :class:`DemoAuthority` (IDK 100) standing in for SII.
* ``company_rut``   the RUT the generated material is for; ``other_rut`` another valid one.
* ``caf_file``      a boleta (39) CAF file for folios 1-100 issued by ``authority`` on ``CAF_DATE``.
* ``pfx`` / ``signer``  a test certificate for ``company_rut`` (password ``PFX_PASSWORD``) and its Signer.

``with_sii_namespace(raw)`` puts back the ``xmlns`` SII's samples lost: their signatures were computed
with it (see tests/fiscal/test_xmldsig.py).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from fiscal.certificates import Signer, load_pkcs12, make_test_certificate
from fiscal.cl.authority_keys import DemoAuthority, load_sii_keys

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
SII_NAMESPACE = "http://www.sii.cl/SiiDte"
COMPANY_RUT = "76086428-5"
OTHER_RUT = "76354771-K"
PFX_PASSWORD = "clave-de-prueba"
CAF_DATE = date(2025, 3, 10)


def with_sii_namespace(raw: bytes) -> bytes:
    """SII's sample with ``xmlns="http://www.sii.cl/SiiDte"`` back on ``<DTE>``; nothing else changes."""
    opening = b'<DTE version="1.0">'
    assert raw.count(opening) == 1
    return raw.replace(opening, b'<DTE xmlns="http://www.sii.cl/SiiDte" version="1.0">')


@pytest.fixture(scope="session")
def reference() -> Path:
    path = REFERENCE.resolve()
    if not (path / "sii" / "samples").is_dir():
        pytest.fail(f"SII reference files not found at {path}: the fiscal tests read shared/reference/sii")
    return path


@pytest.fixture(scope="session")
def sii_keys(reference: Path) -> dict[int, rsa.RSAPublicKey]:
    return load_sii_keys(sorted((reference / "sii" / "certificates").glob("*.cer")))


@pytest.fixture(scope="session")
def sii_samples(reference: Path) -> dict[str, bytes]:
    samples = {path.name: path.read_bytes() for path in sorted((reference / "sii" / "samples").glob("*.xml"))}
    if len(samples) < 2:
        pytest.fail(f"expected SII's two sample DTEs in {reference / 'sii' / 'samples'}")
    return samples


@pytest.fixture(scope="session")
def authority() -> DemoAuthority:
    return DemoAuthority(idk=100)


@pytest.fixture(scope="session")
def company_rut() -> str:
    return COMPANY_RUT


@pytest.fixture(scope="session")
def other_rut() -> str:
    return OTHER_RUT


@pytest.fixture(scope="session")
def caf_file(authority: DemoAuthority) -> bytes:
    return authority.issue_caf(COMPANY_RUT, "Minimarket Doña Rosa & Cía. Ltda.", 39, 1, 100, CAF_DATE)


@pytest.fixture(scope="session")
def pfx() -> bytes:
    return make_test_certificate(COMPANY_RUT, "Rosa Muñoz Pérez", PFX_PASSWORD)


@pytest.fixture(scope="session")
def signer(pfx: bytes) -> Signer:
    return load_pkcs12(pfx, PFX_PASSWORD)
