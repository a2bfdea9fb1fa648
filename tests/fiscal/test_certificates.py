from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from lxml import etree

from fiscal.certificates import (
    Signer,
    decrypt_at_rest,
    encrypt_at_rest,
    load_pkcs12,
    make_test_certificate,
    rut_of,
)
from fiscal.errors import InvalidCertificateError, UnreadableSecretError
from tests.fiscal.conftest import COMPANY_RUT, PFX_PASSWORD

DS = {"ds": "http://www.w3.org/2000/09/xmldsig#"}


def _self_signed(name: x509.Name, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> x509.Certificate:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


def test_load_pkcs12_reads_key_certificate_and_rut(signer: Signer) -> None:
    assert signer.private_key.key_size == 2048
    public = signer.certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.public_numbers() == signer.private_key.public_key().public_numbers()
    assert rut_of(signer.certificate) == COMPANY_RUT
    assert (
        signer.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Rosa Muñoz Pérez"
    )


def test_wrong_password_is_refused(pfx: bytes) -> None:
    with pytest.raises(InvalidCertificateError, match="wrong certificate password") as caught:
        load_pkcs12(pfx, "not-the-password")
    assert caught.value.code == "invalid_certificate"


def test_garbage_is_refused() -> None:
    with pytest.raises(InvalidCertificateError, match=r"not a \.pfx"):
        load_pkcs12(b"certainly not a pfx", PFX_PASSWORD)


def test_expired_and_not_yet_valid_certificates_are_refused(pfx: bytes, signer: Signer) -> None:
    later = signer.certificate.not_valid_after_utc + timedelta(seconds=1)
    with pytest.raises(InvalidCertificateError, match=r"Rosa Muñoz Pérez expired on \d{4}-\d\d-\d\d"):
        load_pkcs12(pfx, PFX_PASSWORD, now=later)
    with pytest.raises(InvalidCertificateError, match="not valid until"):
        load_pkcs12(pfx, PFX_PASSWORD, now=datetime.now(UTC) - timedelta(days=2))
    just_before = signer.certificate.not_valid_after_utc - timedelta(seconds=1)
    assert load_pkcs12(pfx, PFX_PASSWORD, now=just_before).certificate == signer.certificate


def test_a_certificate_without_password_loads() -> None:
    data = make_test_certificate("11111111-1", "Sin Clave", "", days=10)
    assert rut_of(load_pkcs12(data, "").certificate) == "11111111-1"


def test_non_rsa_keys_are_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = _self_signed(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Curva")]), key)
    data = pkcs12.serialize_key_and_certificates(
        b"x", key, certificate, None, serialization.BestAvailableEncryption(b"pw")
    )
    with pytest.raises(InvalidCertificateError, match="only RSA"):
        load_pkcs12(data, "pw")


def test_a_pfx_without_key_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    certificate = _self_signed(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Solo Cert")]), rsa_key)
    data = pkcs12.serialize_key_and_certificates(
        b"x", None, None, [certificate], serialization.BestAvailableEncryption(b"pw")
    )
    with pytest.raises(InvalidCertificateError, match=r"no certificate|no private key"):
        load_pkcs12(data, "pw")


def test_rut_of_the_real_certificates_in_sii_samples(sii_samples: dict[str, bytes]) -> None:
    found = []
    for raw in sii_samples.values():
        text = etree.fromstring(raw).findtext(".//ds:X509Certificate", namespaces=DS)
        assert text is not None
        found.append(rut_of(x509.load_der_x509_certificate(base64.b64decode("".join(text.split())))))
    # E-CERTCHILE (otherName only) and Acepta (otherName and serialNumber)
    assert sorted(found) == ["13185095-6", "16477752-9"]


def test_rut_of_falls_back_to_serial_number_then_common_name(rsa_key: rsa.RSAPrivateKey) -> None:
    by_serial = _self_signed(
        x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, "Juan Soto"),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, "16.477.752-9"),
            ]
        ),
        rsa_key,
    )
    assert rut_of(by_serial) == "16477752-9"
    by_name = _self_signed(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Juan Soto 13185095-6")]), rsa_key
    )
    assert rut_of(by_name) == "13185095-6"
    nothing = _self_signed(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Juan Soto")]), rsa_key)
    with pytest.raises(InvalidCertificateError, match="Juan Soto does not carry a RUT"):
        rut_of(nothing)
    wrong_digit = _self_signed(x509.Name([x509.NameAttribute(NameOID.SERIAL_NUMBER, "16477752-0")]), rsa_key)
    with pytest.raises(InvalidCertificateError):
        rut_of(wrong_digit)


# --- encryption at rest ---------------------------------------------------------------------------------

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
TENANT = b"0190f5a2-7c55-7b1e-9a43-3f1c2d4e5f60"


def test_encrypt_decrypt_round_trip(pfx: bytes) -> None:
    blob = encrypt_at_rest(pfx, KEY, TENANT)
    assert blob[0] == 1
    assert pfx not in blob
    assert decrypt_at_rest(blob, KEY, TENANT) == pfx
    assert encrypt_at_rest(pfx, KEY, TENANT) != blob  # a fresh nonce every time


@pytest.mark.parametrize(
    ("key", "associated"),
    [(OTHER_KEY, TENANT), (KEY, b"another-tenant"), (KEY, b"")],
    ids=["wrong key", "other tenant", "no associated data"],
)
def test_wrong_key_or_associated_data_is_refused(key: bytes, associated: bytes) -> None:
    blob = encrypt_at_rest(b"secret", KEY, TENANT)
    with pytest.raises(UnreadableSecretError, match="cannot be decrypted"):
        decrypt_at_rest(blob, key, associated)


def test_tampered_or_unknown_blobs_are_refused() -> None:
    blob = bytearray(encrypt_at_rest(b"secret data", KEY, TENANT))
    blob[20] ^= 0x01
    with pytest.raises(UnreadableSecretError, match="altered"):
        decrypt_at_rest(bytes(blob), KEY, TENANT)
    with pytest.raises(UnreadableSecretError, match="unknown format"):
        decrypt_at_rest(b"\x02" + bytes(blob[1:]), KEY, TENANT)
    with pytest.raises(UnreadableSecretError):
        decrypt_at_rest(b"", KEY, TENANT)


def test_keys_must_be_256_bits() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        encrypt_at_rest(b"x", b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        decrypt_at_rest(b"\x01" + bytes(40), b"short")
