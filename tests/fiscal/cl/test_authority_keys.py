from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from fiscal.cl.authority_keys import (
    DemoAuthority,
    certificate_public_key,
    generate_rsa_key,
    load_sii_public_key,
)
from fiscal.errors import InvalidCertificateError


@pytest.mark.parametrize("idk", [100, 300])
def test_sii_keys_match_what_openssl_reads(reference: Path, idk: int, tmp_path: Path) -> None:
    path = reference / "sii" / "certificates" / f"{idk}.cer"
    key = load_sii_public_key(path)
    assert key.key_size == 512
    assert key.public_numbers().e == 65537
    openssl = subprocess.run(
        ["openssl", "x509", "-pubkey", "-noout", "-in", str(path)],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    ours = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert ours.strip() == openssl.strip()
    # The certificate's serial number is the IDK that CAFs name.
    assert certificate_public_key(path.read_bytes())[0] == idk


def test_der_form_is_read_too(reference: Path) -> None:
    pem = (reference / "sii" / "certificates" / "300.cer").read_bytes()
    der = subprocess.run(
        ["openssl", "x509", "-outform", "der"], input=pem, capture_output=True, check=True, timeout=30
    ).stdout
    assert (
        certificate_public_key(der)[1].public_numbers()
        == load_sii_public_key(reference / "sii" / "certificates" / "300.cer").public_numbers()
    )


@pytest.mark.parametrize(
    "data", [b"", b"\x30\x03\x02\x01", b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----"]
)
def test_garbage_is_not_a_certificate(data: bytes) -> None:
    with pytest.raises(InvalidCertificateError, match=r"not an X\.509 certificate"):
        certificate_public_key(data)


def test_generated_small_keys_are_exact_and_work() -> None:
    key = generate_rsa_key(512, 3)
    numbers = key.private_numbers()
    assert key.key_size == 512
    assert numbers.public_numbers.n.bit_length() == 512
    assert numbers.public_numbers.e == 3
    assert numbers.p * numbers.q == numbers.public_numbers.n
    assert (numbers.d * 3) % ((numbers.p - 1) * (numbers.q - 1)) == 1
    with pytest.raises(ValueError, match="at least 512"):
        generate_rsa_key(256)


def test_demo_authority_issues_caf_files_in_sii_format(authority: DemoAuthority, caf_file: bytes) -> None:
    assert caf_file.startswith(
        b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<AUTORIZACION>\n<CAF version="1.0">'
    )
    root = etree.fromstring(caf_file)
    assert [child.tag for child in root] == ["CAF", "RSASK", "RSAPUBK"]
    assert [child.tag for child in root.find("CAF")] == ["DA", "FRMA"]
    assert [child.tag for child in root.find("CAF/DA")] == ["RE", "RS", "TD", "RNG", "FA", "RSAPK", "IDK"]
    assert root.findtext("CAF/DA/RS") == "Minimarket Doña Rosa & Cía. Ltda."
    assert b"Do\xf1a Rosa &amp; C\xeda" in caf_file  # ISO-8859-1, escaped
    assert root.findtext("CAF/DA/RSAPK/E") == "Aw=="
    assert root.findtext("CAF/DA/IDK") == "100"
    assert root.find("CAF/FRMA").get("algoritmo") == "SHA1withRSA"
    assert root.findtext("RSASK").startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert root.findtext("RSAPUBK").startswith("-----BEGIN PUBLIC KEY-----")
    private = serialization.load_pem_private_key(root.findtext("RSASK").encode(), None)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert private.key_size == 512
    assert authority.keys == {100: authority.public_key}


def test_every_caf_gets_a_fresh_key(authority: DemoAuthority) -> None:
    one = authority.issue_caf("76086428-5", "X", 33, 1, 5, date(2025, 1, 1))
    two = authority.issue_caf("76086428-5", "X", 33, 1, 5, date(2025, 1, 1))
    assert etree.fromstring(one).findtext("CAF/DA/RSAPK/M") != etree.fromstring(two).findtext(
        "CAF/DA/RSAPK/M"
    )
    with pytest.raises(ValueError, match="folio range"):
        authority.issue_caf("76086428-5", "X", 33, 5, 1, date(2025, 1, 1))


def test_the_simulator_authority_is_one_fixed_key_whose_cafs_verify() -> None:
    from datetime import date

    from fiscal.cl.authority_keys import simulator_authority
    from fiscal.cl.caf import parse_caf, verify_caf

    first, second = simulator_authority(), simulator_authority()
    assert first.public_key.public_numbers() == second.public_key.public_numbers()
    caf = parse_caf(first.issue_caf("76354771-K", "Minimarket", 39, 1, 10, date(2026, 11, 1)))
    verify_caf(caf, second.keys, rut="76354771-K", doc_type=39, today=date(2026, 11, 21))
