"""CAF parsing and verification; the flattening rule proven on the real CAFs inside SII's samples."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from fiscal.cl.authority_keys import DemoAuthority
from fiscal.cl.caf import Caf, expires_on, flatten, parse_caf, parse_caf_element, verify_caf
from fiscal.errors import InvalidCafError
from tests.fiscal.conftest import CAF_DATE, COMPANY_RUT, OTHER_RUT


def _embedded_caf(raw: bytes) -> etree._Element:
    caf = etree.fromstring(raw).find(".//TED/DD/CAF")
    assert caf is not None
    return caf


# --- SII's real CAFs ------------------------------------------------------------------------------------


def test_real_frma_verifies_over_da_flattened(
    sii_samples: dict[str, bytes], sii_keys: dict[int, rsa.RSAPublicKey]
) -> None:
    for raw in sii_samples.values():
        element = _embedded_caf(raw)
        caf = parse_caf_element(element)
        assert caf.idk in sii_keys
        da = element.find("DA")
        flat = flatten(da)
        assert flat.startswith(b"<DA><RE>") and b"\n" not in flat
        sii_keys[caf.idk].verify(caf.frma, flat, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
        # ...and only that way: the other SII key, or DA with whitespace between tags, do not verify.
        other = sii_keys[100 if caf.idk == 300 else 300]
        with pytest.raises(InvalidSignature):
            other.verify(caf.frma, flat, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
        indented = flat.replace(b"><", b">\n<")
        with pytest.raises(InvalidSignature):
            sii_keys[caf.idk].verify(caf.frma, indented, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303


def test_real_cafs_pass_verify_caf(
    sii_samples: dict[str, bytes], sii_keys: dict[int, rsa.RSAPublicKey]
) -> None:
    for raw in sii_samples.values():
        caf = parse_caf_element(_embedded_caf(raw))
        assert caf.private_key is None
        assert caf.doc_type == 33
        assert caf.expires == caf.authorized.replace(month=caf.authorized.month + 6)
        verify_caf(caf, sii_keys, rut=caf.rut, doc_type=33, today=caf.authorized)


# --- generated CAFs -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def caf(caf_file: bytes) -> Caf:
    return parse_caf(caf_file)


def test_parse_demo_caf(caf: Caf, caf_file: bytes) -> None:
    assert (caf.rut, caf.doc_type, caf.first, caf.last, caf.idk) == (COMPANY_RUT, 39, 1, 100, 100)
    assert caf.razon_social == "Minimarket Doña Rosa & Cía. Ltda."
    assert caf.authorized == CAF_DATE
    assert caf.private_key is not None
    assert caf.public_key.public_numbers() == caf.private_key.public_key().public_numbers()
    assert caf.covers(1) and caf.covers(100) and not caf.covers(0) and not caf.covers(101)
    assert caf.expires is None  # boletas do not expire
    assert caf.xml.startswith(b'<CAF version="1.0">') and caf.xml.endswith(b"</CAF>")
    assert parse_caf_element(etree.fromstring(caf.xml)).frma == caf.frma


def test_verify_passes_for_the_right_company_and_type(caf: Caf, authority: DemoAuthority) -> None:
    verify_caf(caf, authority.keys, rut="76.086.428-5", doc_type=39, today=CAF_DATE + timedelta(days=3000))


def test_other_company(caf: Caf, authority: DemoAuthority) -> None:
    with pytest.raises(
        InvalidCafError, match=r"the CAF is for RUT 76\.086\.428-5, not this company's 76\.354\.771-K"
    ) as caught:
        verify_caf(caf, authority.keys, rut=OTHER_RUT, doc_type=39, today=CAF_DATE)
    assert caught.value.code == "invalid_caf"
    assert caught.value.details == {"caf_rut": COMPANY_RUT, "rut": OTHER_RUT}


def test_other_document_type(caf: Caf, authority: DemoAuthority) -> None:
    with pytest.raises(
        InvalidCafError, match=r"document type 39 \(boleta electrónica\), not 33 \(factura electrónica\)"
    ):
        verify_caf(caf, authority.keys, rut=COMPANY_RUT, doc_type=33, today=CAF_DATE)


def test_expiry_after_six_months_for_facturas(authority: DemoAuthority) -> None:
    factura = parse_caf(authority.issue_caf(COMPANY_RUT, "Doña Rosa", 33, 1, 10, date(2025, 8, 31)))
    assert factura.expires == date(2026, 2, 28)
    verify_caf(factura, authority.keys, rut=COMPANY_RUT, doc_type=33, today=date(2026, 2, 27))
    with pytest.raises(
        InvalidCafError, match=r"authorized on 2025-08-31 and expired on 2026-02-28 .*6 months"
    ):
        verify_caf(factura, authority.keys, rut=COMPANY_RUT, doc_type=33, today=date(2026, 2, 28))


@pytest.mark.parametrize(
    ("doc_type", "authorized", "expires"),
    [
        (61, date(2024, 1, 10), date(2024, 7, 10)),
        (56, date(2018, 7, 1), date(2019, 1, 1)),
        (33, date(2017, 3, 1), date(2018, 9, 1)),  # 18 months before July 2018
        (33, date(2018, 2, 1), date(2019, 1, 1)),  # ...capped at 2018-12-31
        (33, date(2015, 6, 1), date(2016, 12, 1)),  # before 2016: capped at 2017-06-30
        (33, date(2015, 12, 1), date(2017, 6, 1)),
        (39, date(2010, 1, 1), None),
        (41, date(2024, 1, 1), None),
        (52, date(2024, 1, 1), None),
    ],
)
def test_expiry_rule(doc_type: int, authorized: date, expires: date | None) -> None:
    assert expires_on(doc_type, authorized) == expires


def test_tampered_da(caf_file: bytes, authority: DemoAuthority) -> None:
    tampered = caf_file.replace(b"<H>100</H>", b"<H>900</H>")
    assert tampered != caf_file
    with pytest.raises(
        InvalidCafError, match=r"signature \(FRMA\) does not verify with SII key 100: .*altered"
    ):
        verify_caf(parse_caf(tampered), authority.keys, rut=COMPANY_RUT, doc_type=39, today=CAF_DATE)


def test_unknown_or_wrong_authority_key(
    caf: Caf, authority: DemoAuthority, sii_keys: dict[int, rsa.RSAPublicKey]
) -> None:
    with pytest.raises(
        InvalidCafError, match=r"SII key number 100, which is not one of the known keys \(300\)"
    ):
        verify_caf(caf, {300: authority.public_key}, rut=COMPANY_RUT, doc_type=39, today=CAF_DATE)
    # A demo CAF checked against the real SII key 100: not SII's.
    with pytest.raises(InvalidCafError, match="not issued by SII"):
        verify_caf(caf, sii_keys, rut=COMPANY_RUT, doc_type=39, today=CAF_DATE)


def test_range_sanity_is_checked(caf: Caf, authority: DemoAuthority) -> None:
    from dataclasses import replace

    with pytest.raises(InvalidCafError, match="folio range 50-10"):
        verify_caf(
            replace(caf, first=50, last=10), authority.keys, rut=COMPANY_RUT, doc_type=39, today=CAF_DATE
        )


# --- malformed files ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b[: len(b) // 2], "not an XML file as SII issues them \\(broken at line"),
        (lambda b: b.replace(b"AUTORIZACION>", b"OTRA>"), "root element is <OTRA>"),
        (lambda b: b.replace(b"<IDK>100</IDK>", b""), "<IDK> is missing"),
        (lambda b: b.replace(b"<TD>39</TD>", b"<TD>boleta</TD>"), "<TD> is not a number"),
        (lambda b: b.replace(b"<RE>76086428-5</RE>", b"<RE>76086428-4</RE>"), "RUT is not valid"),
        (lambda b: b.replace(b"<FA>2025-03-10</FA>", b"<FA>10-03-2025</FA>"), "authorization date"),
        (lambda b: b.replace(b"<D>1</D>", b"<D>500</D>"), "folio range 500-100"),
        (
            lambda b: b.replace(
                b"-----BEGIN RSA PRIVATE KEY-----\n", b"-----BEGIN RSA PRIVATE KEY-----\nAAAA"
            ),
            "RSASK",
        ),
    ],
    ids=["truncated", "not a CAF", "no IDK", "bad TD", "bad RUT", "bad date", "bad range", "damaged key"],
)
def test_malformed_files(caf_file: bytes, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidCafError, match=message):
        parse_caf(mutate(caf_file))


def test_private_key_of_another_caf_is_refused(caf_file: bytes, authority: DemoAuthority) -> None:
    other = authority.issue_caf(COMPANY_RUT, "X", 39, 1, 2, CAF_DATE)
    root, donor = etree.fromstring(caf_file), etree.fromstring(other)
    root.find("RSASK").text = donor.findtext("RSASK")
    with pytest.raises(
        InvalidCafError, match=r"private key \(RSASK\) does not match its public key \(RSAPK\)"
    ):
        parse_caf(etree.tostring(root, encoding="ISO-8859-1"))
    root.find("RSASK").text = etree.fromstring(caf_file).findtext("RSASK")
    root.find("RSAPUBK").text = donor.findtext("RSAPUBK")
    with pytest.raises(InvalidCafError, match="RSAPUBK"):
        parse_caf(etree.tostring(root, encoding="ISO-8859-1"))


def test_latin1_without_declaration_is_read(caf_file: bytes) -> None:
    undeclared = caf_file.replace(b'<?xml version="1.0" encoding="ISO-8859-1"?>', b'<?xml version="1.0"?>')
    assert parse_caf(undeclared).razon_social == "Minimarket Doña Rosa & Cía. Ltda."


def test_a_bare_caf_element_has_no_private_key(caf: Caf) -> None:
    bare = parse_caf(caf.xml)
    assert bare.private_key is None
    assert bare.frma == caf.frma
