"""The keys that sign CAFs: SII's own, and a stand-in authority for the simulator, the demo and the tests.

SII publishes its CAF-signing keys as X.509 certificates (``100.cer`` certification, ``300.cer``
production; the certificate's serial number is the IDK a CAF names). They are 512-bit RSA keys in
certificates whose version field holds 3 (an "X.509 v4" that never existed), which ``cryptography``
refuses to load; :func:`certificate_public_key` walks the DER to the SubjectPublicKeyInfo instead.

:class:`DemoAuthority` issues CAF files in SII's format, signed with its own key, for tenants that are not
talking to SII. Its CAF keys are 512-bit RSA with exponent 3 like SII's. ``cryptography`` refuses to
*generate* keys under 1024 bits, so :func:`generate_rsa_key` finds the primes itself (Miller-Rabin) and
hands the numbers to ``cryptography``, which loads and uses such keys fine.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from fiscal.cl.caf import flatten
from fiscal.cl.rut import normalize
from fiscal.errors import InvalidCertificateError

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)


# --- SII's certificates ---------------------------------------------------------------------------------


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """DER element at ``pos``: (tag, content start, content end)."""
    if pos + 2 > len(data):
        raise ValueError("truncated")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated")
    return tag, pos, pos + length


def certificate_public_key(data: bytes) -> tuple[int, rsa.RSAPublicKey]:
    """(serial number, RSA public key) of an X.509 certificate in PEM or DER, whatever its version field."""
    match = _PEM.search(data)
    try:
        der = base64.b64decode(b"".join(match.group(1).split())) if match else data
        tag, start, _ = _tlv(der, 0)  # Certificate ::= SEQUENCE { tbsCertificate, ... }
        if tag != 0x30:
            raise ValueError("not a SEQUENCE")
        tag, pos, tbs_end = _tlv(der, start)  # TBSCertificate ::= SEQUENCE
        if tag != 0x30:
            raise ValueError("not a SEQUENCE")
        fields: list[tuple[int, int, int, int]] = []  # (tag, element start, content start, content end)
        while pos < tbs_end and len(fields) < 8:
            tag, content, end = _tlv(der, pos)
            fields.append((tag, pos, content, end))
            pos = end
        if fields and fields[0][0] == 0xA0:  # [0] EXPLICIT version
            fields = fields[1:]
        # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
        serial_tag, _, serial_start, serial_end = fields[0]
        spki_tag, spki_start, _, spki_end = fields[5]
        if serial_tag != 0x02 or spki_tag != 0x30:
            raise ValueError("unexpected structure")
        serial = int.from_bytes(der[serial_start:serial_end], "big")
        key = serialization.load_der_public_key(der[spki_start:spki_end])
    except (ValueError, IndexError, binascii.Error):
        raise InvalidCertificateError("the file is not an X.509 certificate (PEM or DER)") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidCertificateError("the certificate's key is not RSA")
    return serial, key


def load_sii_public_key(path: str | Path) -> rsa.RSAPublicKey:
    """SII's CAF-signing public key from one of its certificates (e.g. ``300.cer``)."""
    return certificate_public_key(Path(path).read_bytes())[1]


def load_sii_keys(paths: Iterable[str | Path]) -> dict[int, rsa.RSAPublicKey]:
    """``{IDK: key}`` for SII's certificates; the IDK is each certificate's serial number (100, 300)."""
    keys: dict[int, rsa.RSAPublicKey] = {}
    for path in paths:
        serial, key = certificate_public_key(Path(path).read_bytes())
        keys[serial] = key
    return keys


# --- small RSA keys -------------------------------------------------------------------------------------

_SMALL_PRIMES = tuple(p for p in range(3, 2000, 2) if all(p % d for d in range(3, int(p**0.5) + 1, 2)))


def _is_probable_prime(n: int, rounds: int = 40) -> bool:
    if n < 2:
        return False
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int, exponent: int) -> int:
    while True:
        # Top two bits set so the product of two such primes has exactly 2 * bits bits.
        candidate = secrets.randbits(bits) | (0b11 << (bits - 2)) | 1
        if (candidate - 1) % exponent and _is_probable_prime(candidate):
            return candidate


def generate_rsa_key(bits: int = 512, public_exponent: int = 3) -> rsa.RSAPrivateKey:
    """An RSA key of any even size >= 512 (``cryptography`` only generates >= 1024)."""
    if bits < 512 or bits % 2:
        raise ValueError("bits must be even and at least 512")
    if bits >= 1024:
        return rsa.generate_private_key(public_exponent, bits)
    half = bits // 2
    while True:
        p, q = _prime(half, public_exponent), _prime(half, public_exponent)
        if p != q:
            break
    d = pow(public_exponent, -1, (p - 1) * (q - 1))
    public = rsa.RSAPublicNumbers(public_exponent, p * q)
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q), public
    )
    return numbers.private_key()


def _b64int(value: int) -> str:
    return base64.b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).decode("ascii")


def _authority_key() -> rsa.RSAPrivateKey:
    return generate_rsa_key(512, 65537)


# --- the stand-in authority -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoAuthority:
    """A CAF issuer standing in for SII: its own key (512-bit like SII's), its own IDK."""

    private_key: rsa.RSAPrivateKey = field(default_factory=_authority_key)
    idk: int = 100

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    @property
    def keys(self) -> dict[int, rsa.RSAPublicKey]:
        """The mapping ``verify_caf`` / ``verify_ted`` take."""
        return {self.idk: self.public_key}

    def issue_caf(
        self, rut: str, razon_social: str, doc_type: int, first: int, last: int, authorized: date
    ) -> bytes:
        """A CAF file in SII's format (ISO-8859-1) with a fresh 512-bit key, exponent 3."""
        if first < 1 or last < first:
            raise ValueError(f"folio range {first}-{last} is not valid")
        caf_key = generate_rsa_key(512, 3)
        numbers = caf_key.public_key().public_numbers()

        def sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
            element = etree.SubElement(parent, tag)
            element.text = text
            return element

        da = etree.Element("DA")
        sub(da, "RE", normalize(rut))
        sub(da, "RS", razon_social[:40])
        sub(da, "TD", str(doc_type))
        rng = sub(da, "RNG")
        sub(rng, "D", str(first))
        sub(rng, "H", str(last))
        sub(da, "FA", authorized.isoformat())
        rsapk = sub(da, "RSAPK")
        sub(rsapk, "M", _b64int(numbers.n))
        sub(rsapk, "E", _b64int(numbers.e))
        sub(da, "IDK", str(self.idk))
        frma = base64.b64encode(
            self.private_key.sign(flatten(da), padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 (SII's algorithm)
        ).decode("ascii")

        root = etree.Element("AUTORIZACION")
        caf = sub(root, "CAF")
        caf.set("version", "1.0")
        caf.append(da)
        sub(caf, "FRMA", frma).set("algoritmo", "SHA1withRSA")
        private_pem = caf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        public_pem = caf_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        sub(root, "RSASK", private_pem.decode("ascii"))
        sub(root, "RSAPUBK", public_pem.decode("ascii"))
        _layout(root)
        body: bytes = etree.tostring(root, encoding="ISO-8859-1", xml_declaration=False)
        return b'<?xml version="1.0" encoding="ISO-8859-1"?>\n' + body + b"\n"


def _layout(root: etree._Element) -> None:
    """One element per line, as in SII's files (RNG and RSAPK kept on one line); FRMA ignores whitespace."""
    root.text = "\n"
    for child in root:
        child.tail = "\n"
    caf = root.find("CAF")
    da = root.find("CAF/DA")
    assert caf is not None
    assert da is not None
    caf.text = "\n"
    for child in caf:
        child.tail = "\n"
    da.text = "\n"
    for child in da:
        child.tail = "\n"


SIMULATOR_AUTHORITY_KEY = Path(__file__).with_name("simulator_authority.pem")
SIMULATOR_IDK = 100


def simulator_authority() -> DemoAuthority:
    """The authority of the SII simulator (``storehub sim sii``) and the demo: one fixed key, shipped with the
    code because it signs nothing real. A hub configured for the simulator trusts only this key; one
    configured for SII's certification or production environments trusts only SII's 100.cer / 300.cer."""
    key = serialization.load_pem_private_key(SIMULATOR_AUTHORITY_KEY.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return DemoAuthority(private_key=key, idk=SIMULATOR_IDK)
