"""The taxpayer's digital certificate (.pfx / .p12): loading, the holder's RUT, storage at rest, test ones.

Chilean certification authorities put the holder's RUT in the certificate's subjectAltName as an
``otherName`` of type 1.3.6.1.4.1.8321.1 (SII's arc) holding an IA5String ``"13185095-6"``: both real
certificates in SII's accepted samples do so (E-CERTCHILE and Acepta). Some (Acepta) also put it in the
subject's serialNumber. :func:`rut_of` reads the otherName first, then serialNumber, then a RUT-looking
CN.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from fiscal.cl.rut import normalize
from fiscal.errors import InvalidCertificateError, UnreadableSecretError
from schema.errors import ValidationError

RUT_OID = x509.ObjectIdentifier("1.3.6.1.4.1.8321.1")
"""subjectAltName otherName type carrying the holder's RUT (IA5String) in Chilean certificates."""

_RUT_IN_TEXT = re.compile(r"\b(\d{1,2}\.?\d{3}\.?\d{3}-[\dkK])\b")

# Strings a DER otherName value may hold the RUT in: IA5String, UTF8String, PrintableString.
_STRING_TAGS = frozenset({0x16, 0x0C, 0x13})


@dataclass(frozen=True)
class Signer:
    """A private key and its certificate (plus the issuer chain from the .pfx, if any)."""

    private_key: rsa.RSAPrivateKey = field(repr=False)
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()


def holder_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else certificate.subject.rfc4514_string()
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def load_pkcs12(data: bytes, password: str, *, now: datetime | None = None) -> Signer:
    """Open a .pfx / .p12 and check it can sign at ``now`` (default: the current time; naive means UTC)."""
    try:
        key, certificate, chain = pkcs12.load_key_and_certificates(data, password.encode("utf-8"))
    except ValueError:
        raise InvalidCertificateError(
            "wrong certificate password (or the file is not a .pfx / .p12 certificate)"
        ) from None
    if certificate is None:
        raise InvalidCertificateError("the .pfx file holds no certificate")
    if key is None:
        raise InvalidCertificateError(
            f"the .pfx file of {holder_name(certificate)} holds no private key: export it with its key"
        )
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidCertificateError(
            f"the certificate of {holder_name(certificate)} has a {type(key).__name__} key; "
            "tax authorities accept only RSA"
        )
    public = certificate.public_key()
    if (
        not isinstance(public, rsa.RSAPublicKey)
        or public.public_numbers() != key.public_key().public_numbers()
    ):
        raise InvalidCertificateError("the .pfx file's private key does not belong to its certificate")
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if now >= certificate.not_valid_after_utc:
        raise InvalidCertificateError(
            f"the certificate of {holder_name(certificate)} expired on "
            f"{certificate.not_valid_after_utc.date().isoformat()}: renew it with your certification "
            "authority",
            expired_on=certificate.not_valid_after_utc.date().isoformat(),
        )
    if now < certificate.not_valid_before_utc:
        raise InvalidCertificateError(
            f"the certificate of {holder_name(certificate)} is not valid until "
            f"{certificate.not_valid_before_utc.isoformat()}"
        )
    return Signer(private_key=key, certificate=certificate, chain=tuple(chain))


def _der_string(value: bytes) -> str | None:
    """The text of a DER string (IA5/UTF8/Printable), possibly wrapped in an explicit [0]."""
    if len(value) >= 2 and value[0] == 0xA0:
        value = value[2:] if value[1] < 0x80 else value[2 + (value[1] & 0x7F) :]
    if len(value) < 2 or value[0] not in _STRING_TAGS or value[1] >= 0x80:
        return None
    content = value[2 : 2 + value[1]]
    return content.decode("utf-8", "replace") if len(content) == value[1] else None


def rut_of(certificate: x509.Certificate) -> str:
    """The holder's RUT, normalized (``12345678-9``)."""
    candidates: list[str] = []
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        for other in san.get_values_for_type(x509.OtherName):
            if other.type_id == RUT_OID:
                text = _der_string(other.value)
                if text:
                    candidates.append(text)
    for oid in (NameOID.SERIAL_NUMBER, NameOID.COMMON_NAME):
        for attribute in certificate.subject.get_attributes_for_oid(oid):
            value = attribute.value if isinstance(attribute.value, str) else attribute.value.decode()
            candidates.extend(match.group(1) for match in _RUT_IN_TEXT.finditer(value))
    for candidate in candidates:
        try:
            return normalize(candidate)
        except ValidationError:
            continue
    raise InvalidCertificateError(f"the certificate of {holder_name(certificate)} does not carry a RUT")


# --- at rest --------------------------------------------------------------------------------------------

_VERSION = b"\x01"
_NONCE_BYTES = 12


def encrypt_at_rest(data: bytes, key: bytes, associated_data: bytes = b"") -> bytes:
    """AES-256-GCM: ``version(1) | nonce(12) | ciphertext+tag``. Bind it to its owner (tenant id) with
    ``associated_data``: the same must be given to decrypt."""
    if len(key) != 32:
        raise ValueError("the key for encryption at rest must be 32 bytes (AES-256)")
    nonce = os.urandom(_NONCE_BYTES)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, data, associated_data)


def decrypt_at_rest(blob: bytes, key: bytes, associated_data: bytes = b"") -> bytes:
    if len(key) != 32:
        raise ValueError("the key for encryption at rest must be 32 bytes (AES-256)")
    if not blob or blob[:1] != _VERSION:
        version = blob[0] if blob else None
        raise UnreadableSecretError(f"the stored secret has an unknown format (version {version})")
    nonce, ciphertext = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, associated_data)
    except InvalidTag:
        raise UnreadableSecretError(
            "the stored secret cannot be decrypted: the secret key changed, it belongs to another owner, "
            "or it was altered; upload it again"
        ) from None


# --- test certificates ----------------------------------------------------------------------------------


def _ia5(text: str) -> bytes:
    raw = text.encode("ascii")
    return bytes([0x16, len(raw)]) + raw


def make_test_certificate(
    rut: str, name: str, password: str, days: int = 365, *, now: datetime | None = None
) -> bytes:
    """A self-signed RSA-2048 certificate for ``name`` with ``rut`` where Chilean CAs put it, as a .pfx."""
    rut = normalize(rut)
    now = now or datetime.now(UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CL"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.OtherName(RUT_OID, _ia5(rut))]), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    encryption = (
        serialization.BestAvailableEncryption(password.encode("utf-8"))
        if password
        else serialization.NoEncryption()
    )
    return pkcs12.serialize_key_and_certificates(name.encode("utf-8"), key, certificate, None, encryption)
