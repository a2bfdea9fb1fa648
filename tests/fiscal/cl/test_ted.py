from __future__ import annotations

import base64
import subprocess
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from fiscal.cl.authority_keys import DemoAuthority
from fiscal.cl.caf import Caf, parse_caf
from fiscal.cl.ted import SII_NAMESPACE, TedData, parse_ted, stamp, ted_bytes, verify_ted
from fiscal.errors import InvalidCafError, SignatureError
from schema.errors import ValidationError
from tests.fiscal.conftest import COMPANY_RUT, OTHER_RUT, with_sii_namespace

SAMPLE_TOTALS = {"DTE--76354771-K--33--170.xml": 2996301, "DTE--76399752-9--33--25568.xml": 230992}

DATA = TedData(
    issuer_rut="76.086.428-5",
    doc_type=39,
    folio=42,
    issue_date=date(2025, 4, 2),
    receiver_rut="66666666-6",
    receiver_name="Ñandú & <Compañía> Álvarez e Hijos Limitada de Chile",
    total=12990,
    first_item="Queso mantecoso laminado 250 g, marca Colún & Cía",
    timestamp=datetime(2025, 4, 2, 18, 5, 9),
)


@pytest.fixture(scope="module")
def caf(caf_file: bytes) -> Caf:
    return parse_caf(caf_file)


def _ted(raw: bytes) -> etree._Element:
    ted = etree.fromstring(raw).find(".//{*}TED")
    assert ted is not None
    return ted


# --- SII's samples --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SAMPLE_TOTALS))
def test_real_teds_verify(
    sii_samples: dict[str, bytes], sii_keys: dict[int, rsa.RSAPublicKey], name: str
) -> None:
    data = verify_ted(_ted(sii_samples[name]), sii_keys)
    assert data.total == SAMPLE_TOTALS[name]
    assert data.doc_type == 33
    # The same TED inside the namespaced document (how the DTE really is) verifies too.
    assert verify_ted(_ted(with_sii_namespace(sii_samples[name])), sii_keys) == data


@pytest.mark.parametrize("name", sorted(SAMPLE_TOTALS))
def test_altered_mnt_is_caught(sii_samples: dict[str, bytes], name: str) -> None:
    total = SAMPLE_TOTALS[name]
    raw = sii_samples[name].replace(f"<MNT>{total}</MNT>".encode(), f"<MNT>{total - 1}</MNT>".encode())
    assert raw != sii_samples[name]
    with pytest.raises(SignatureError, match=r"FRMT\) does not match its data"):
        verify_ted(_ted(raw))


def test_sample_ted_bytes_are_the_ted_as_written(sii_samples: dict[str, bytes]) -> None:
    for raw in sii_samples.values():
        start, end = raw.index(b"<TED "), raw.index(b"</TED>") + len(b"</TED>")
        assert ted_bytes(_ted(raw)) == raw[start:end]


# --- stamping -------------------------------------------------------------------------------------------


def test_stamp_and_verify(caf: Caf, authority: DemoAuthority) -> None:
    ted = stamp(DATA, caf)
    data = verify_ted(ted, authority.keys)
    assert data == replace(
        DATA,
        issuer_rut=COMPANY_RUT,
        receiver_name=DATA.receiver_name[:40],
        first_item=DATA.first_item[:40],
    )
    assert len(data.receiver_name) == 40
    assert len(data.first_item) == 40


def test_ted_bytes_layout(caf: Caf) -> None:
    flat = ted_bytes(stamp(DATA, caf))
    assert flat.startswith(
        b'<TED version="1.0"><DD><RE>76086428-5</RE><TD>39</TD><F>42</F><FE>2025-04-02</FE>'
    )
    assert (
        b"<RR>66666666-6</RR><RSR>\xd1and\xfa &amp; &lt;Compa\xf1\xeda&gt; \xc1lvarez e Hijos Limit</RSR>"
        in flat
    )
    assert (
        b'<MNT>12990</MNT><IT1>Queso mantecoso laminado 250 g, marca Co</IT1><CAF version="1.0"><DA>' in flat
    )
    assert b'</CAF><TSTED>2025-04-02T18:05:09</TSTED></DD><FRMT algoritmo="SHA1withRSA">' in flat
    assert b"\n" not in flat and b"xmlns" not in flat
    flat.decode("iso-8859-1")


def test_frmt_checked_independently_by_openssl(caf: Caf, tmp_path: Path) -> None:
    ted = stamp(DATA, caf)
    dd = ted.find("DD")
    assert dd is not None
    start = ted_bytes(ted).index(b"<DD>")
    end = ted_bytes(ted).index(b"</DD>") + len(b"</DD>")
    (tmp_path / "dd.bin").write_bytes(ted_bytes(ted)[start:end])
    (tmp_path / "sig.bin").write_bytes(base64.b64decode(ted.findtext("FRMT") or ""))
    (tmp_path / "pub.pem").write_bytes(
        caf.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )

    def openssl_verify() -> str:
        return subprocess.run(
            ["openssl", "dgst", "-sha1", "-verify", "pub.pem", "-signature", "sig.bin", "dd.bin"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout.strip()

    assert openssl_verify() == "Verified OK"
    (tmp_path / "dd.bin").write_bytes(ted_bytes(ted)[start:end].replace(b"<MNT>12990<", b"<MNT>12900<"))
    assert openssl_verify() == "Verification failure"


def test_namespaced_ted_signs_the_same_dd(caf: Caf, authority: DemoAuthority) -> None:
    plain, namespaced = stamp(DATA, caf), stamp(DATA, caf, namespace=SII_NAMESPACE)
    assert namespaced.tag == f"{{{SII_NAMESPACE}}}TED"
    assert all(element.tag.startswith(f"{{{SII_NAMESPACE}}}") for element in namespaced.iter())
    assert ted_bytes(namespaced) == ted_bytes(plain)
    assert verify_ted(namespaced, authority.keys) == verify_ted(plain, authority.keys)


def test_timestamp_is_chile_local_time(caf: Caf) -> None:
    # 2025-07-01 is winter: Chile is UTC-4.
    ted = stamp(replace(DATA, timestamp=datetime(2025, 7, 1, 16, 0, 0, 123, tzinfo=UTC)), caf)
    assert ted.findtext("DD/TSTED") == "2025-07-01T12:00:00"


def test_folio_outside_the_range(caf: Caf) -> None:
    with pytest.raises(InvalidCafError, match="folio 101 is outside this CAF's range 1-100"):
        stamp(replace(DATA, folio=101), caf)


def test_other_company_or_type(caf: Caf) -> None:
    with pytest.raises(InvalidCafError, match=r"for RUT 76\.086\.428-5, not this company's 76\.354\.771-K"):
        stamp(replace(DATA, issuer_rut=OTHER_RUT), caf)
    with pytest.raises(InvalidCafError, match=r"type 39 \(boleta electrónica\), not 41"):
        stamp(replace(DATA, doc_type=41), caf)


def test_a_caf_without_private_key_cannot_stamp(caf: Caf) -> None:
    with pytest.raises(InvalidCafError, match="no private key"):
        stamp(DATA, replace(caf, private_key=None))


def test_bad_data(caf: Caf) -> None:
    with pytest.raises(ValidationError, match="check digit"):
        stamp(replace(DATA, receiver_rut="66666666-5"), caf)
    with pytest.raises(ValidationError, match="IT1"):
        stamp(replace(DATA, first_item="  "), caf)
    with pytest.raises(ValidationError, match="negative"):
        stamp(replace(DATA, total=-1), caf)


def test_tampering_and_substitution_are_caught(caf: Caf, authority: DemoAuthority) -> None:
    flat = ted_bytes(stamp(DATA, caf))
    assert verify_ted(parse_ted(flat)).folio == 42
    with pytest.raises(SignatureError):
        verify_ted(parse_ted(flat.replace(b"<F>42</F>", b"<F>43</F>")))
    # A TED re-signed with another CAF's key but keeping the first CAF: FRMT no longer matches its RSAPK.
    other = parse_caf(authority.issue_caf(COMPANY_RUT, "Otra", 39, 1, 100, date(2025, 1, 1)))
    forged = stamp(DATA, other)
    forged.find("DD").replace(forged.find("DD/CAF"), stamp(DATA, caf).find("DD/CAF"))
    with pytest.raises(SignatureError):
        verify_ted(forged)
    # A consistent TED whose CAF was not issued by the authority given.
    with pytest.raises(InvalidCafError, match="not issued by SII"):
        verify_ted(stamp(DATA, caf), DemoAuthority().keys)
