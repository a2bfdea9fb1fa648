from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from fiscal.certificates import Signer
from fiscal.cl.authority_keys import DemoAuthority
from fiscal.cl.envelope import build_envio_boleta, build_envio_dte
from fiscal.cl.schemas import SiiSchemas, UnreadableXmlError
from fiscal.cl.verify import Verdict, verify_file

Build = Callable[..., etree._Element]
SAMPLE_170 = "DTE--76354771-K--33--170.xml"
SIGNED_AT = datetime(2025, 3, 20, 11, 0, 0)


def failed(verdict: Verdict) -> dict[str, str]:
    return {
        check.name: check.detail
        for document in verdict.documents
        for check in document.checks
        if not check.ok
    }


def test_real_samples_verify_completely(
    sii_samples: dict[str, bytes], schemas: SiiSchemas, sii_keys: dict[int, rsa.RSAPublicKey]
) -> None:
    for name, raw in sii_samples.items():
        verdict = verify_file(raw, schemas=schemas, authority_keys=sii_keys)
        assert verdict.ok, (name, verdict.lines())
        (document,) = verdict.documents
        checks = {check.name: check.detail for check in document.checks}
        assert checks["schema"] == "valid"
        assert "after adding the SiiDte namespace" in checks["XMLDSig"]
        assert checks["TED"] == "stamp verifies, CAF signed by SII key"
        assert checks["TED vs document"] == "consistent"
        assert checks["amounts"] == "lines and totals add up"
    (line,) = verify_file(sii_samples[SAMPLE_170]).lines()
    assert line.startswith("OK 33 folio 170: XMLDSig: signed by Ramon humberto Lopez  Jara (13185095-6)")


def test_an_altered_total_is_caught_three_ways(sii_samples: dict[str, bytes], schemas: SiiSchemas) -> None:
    raw = sii_samples[SAMPLE_170].replace(b"<MntTotal>2996301</MntTotal>", b"<MntTotal>2996300</MntTotal>")
    verdict = verify_file(raw, schemas=schemas)
    assert not verdict.ok
    problems = failed(verdict)
    assert problems["XMLDSig"].startswith(
        "digest mismatch: Documento MiPE76354771-13419 was changed after it was signed "
        "(DigestValue ij2Qn6xOc2eRx3h"
    )
    assert problems["TED vs document"] == "TED MNT 2996301 != MntTotal 2996300"
    assert problems["amounts"] == "MntNeto 2517900 + MntExe 0 + IVA 478401 = 2996301, MntTotal is 2996300"
    (line,) = verdict.lines()
    assert line.startswith("FAIL 33 folio 170: XMLDSig: digest mismatch")


def test_an_altered_line_amount_is_caught(sii_samples: dict[str, bytes]) -> None:
    raw = sii_samples["DTE--76399752-9--33--25568.xml"].replace(b"<MontoItem>194111<", b"<MontoItem>194110<")
    problems = failed(verify_file(raw))
    assert problems.keys() == {"XMLDSig", "amounts"}
    assert problems["XMLDSig"].startswith("digest mismatch")
    assert problems["amounts"] == "the affected lines add up to 194110, MntNeto is 194111"


def test_an_altered_stamp_or_signature_value_is_caught(sii_samples: dict[str, bytes]) -> None:
    raw = sii_samples[SAMPLE_170]
    problems = failed(verify_file(raw.replace(b"<MNT>2996301</MNT>", b"<MNT>2996300</MNT>")))
    assert problems["TED"].startswith("the TED's signature (FRMT) does not match its data")
    assert problems["XMLDSig"].startswith("digest mismatch")  # the TED is inside the signed Documento
    problems = failed(verify_file(raw.replace(b"fsYP5p/lNfofAz8P", b"fsYP5p/lNfofAz8Q")))
    assert list(problems) == ["XMLDSig"]
    assert problems["XMLDSig"].startswith(
        "the signature value does not verify (after adding the SiiDte namespace the file lacks): "
        "the Documento matches its digest"
    )


def test_caf_signature_is_checked_against_the_given_authority_keys(
    build: Build, authority: DemoAuthority, sii_keys: dict[int, rsa.RSAPublicKey]
) -> None:
    raw = etree.tostring(build(39, 201))
    assert verify_file(raw, authority_keys=authority.keys).ok
    problems = failed(verify_file(raw, authority_keys=sii_keys))
    assert problems == {
        "TED": "the CAF's signature (FRMA) does not verify with SII key 100: the file was altered or was not "
        "issued by SII"
    }


@pytest.fixture(scope="module")
def envelopes(build: Build, company_rut: str, signer: Signer) -> dict[str, bytes]:
    resolution = date(2024, 8, 1)
    return {
        "EnvioBOLETA": build_envio_boleta(
            [build(39, 210), build(39, 211)], company_rut, company_rut, resolution, 0, signer, SIGNED_AT
        ),
        "EnvioDTE": build_envio_dte(
            [build(33, 210), build(61, 210)], company_rut, company_rut, resolution, 0, signer, SIGNED_AT
        ),
    }


def test_our_envelopes_verify(
    envelopes: dict[str, bytes], schemas: SiiSchemas, authority: DemoAuthority, company_rut: str
) -> None:
    for kind, envelope in envelopes.items():
        verdict = verify_file(envelope, schemas=schemas, authority_keys=authority.keys)
        assert verdict.ok, verdict.lines()
        assert verdict.kind == kind
        assert len(verdict.documents) == 2
        lines = verdict.lines()
        assert lines[-1] == (
            f"OK {kind}: schema: valid; SetDTE XMLDSig: signed by Rosa Muñoz Pérez; "
            "Caratula: 2 documents as declared"
        )
        assert all(line.startswith("OK ") for line in lines)
        for document in verdict.documents:
            xmldsig = next(check for check in document.checks if check.name == "XMLDSig")
            assert xmldsig.detail == f"signed by Rosa Muñoz Pérez ({company_rut})"  # as found, no fallback


def test_a_tampered_envelope_names_the_document_and_the_set(envelopes: dict[str, bytes]) -> None:
    envelope = envelopes["EnvioDTE"]
    first = envelope.index(b"<MontoItem>800<")
    tampered = envelope[:first] + b"<MontoItem>900<" + envelope[first + len(b"<MontoItem>800<") :]
    verdict = verify_file(tampered)
    assert not verdict.ok
    lines = verdict.lines()
    assert lines[0].startswith("FAIL 33 folio 210: XMLDSig: digest mismatch: Documento T33F210 was changed")
    assert "amounts: the exempt lines add up to 900, MntExe is 800" in lines[0]
    assert lines[1].startswith("OK 61 folio 210")
    assert lines[2].startswith("FAIL EnvioDTE: SetDTE XMLDSig: digest mismatch: the SetDTE was changed")


def test_caratula_must_match_the_documents(envelopes: dict[str, bytes]) -> None:
    envelope = envelopes["EnvioBOLETA"].replace(b"<NroDTE>2</NroDTE>", b"<NroDTE>3</NroDTE>")
    verdict = verify_file(envelope)
    assert not verdict.ok
    assert [check.detail for check in verdict.envelope if check.name == "Caratula"] == [
        "SubTotDTE says 3 of type 39, the envelope holds 2"
    ]


def test_a_dte_signed_before_the_envelope_without_xsi_still_verifies(
    sii_samples: dict[str, bytes], schemas: SiiSchemas
) -> None:
    # The usual third-party case: a DTE signed standalone with only xmlns, put in an envelope declaring xsi.
    dte = (
        sii_samples[SAMPLE_170]
        .split(b"?>", 1)[1]
        .replace(b'<DTE version="1.0">', b'<DTE xmlns="http://www.sii.cl/SiiDte" version="1.0">')
    )
    envelope = (
        b'<EnvioDTE xmlns="http://www.sii.cl/SiiDte" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        b'version="1.0"><SetDTE ID="S"><Caratula version="1.0"><RutEmisor>76354771-K</RutEmisor>'
        b"<SubTotDTE><TpoDTE>33</TpoDTE><NroDTE>1</NroDTE></SubTotDTE></Caratula>"
        + dte
        + b"</SetDTE></EnvioDTE>"
    )
    verdict = verify_file(envelope)
    (document,) = verdict.documents
    assert document.ok, document.line()
    assert "without the envelope's namespace declarations" in document.line()
    assert not verdict.ok  # the envelope itself is unsigned
    assert [check.detail for check in verdict.envelope if not check.ok] == [
        "the document is not signed: it has no <Signature>"
    ]


def test_unreadable_or_foreign_input_raises() -> None:
    with pytest.raises(UnreadableXmlError, match="the input is not well-formed XML"):
        verify_file(b"<DTE>")
    with pytest.raises(UnreadableXmlError, match="is a <Factura>, not a DTE, EnvioDTE or EnvioBOLETA"):
        verify_file(b"<Factura/>")
    with pytest.raises(UnreadableXmlError, match=r"cannot read /nonexistent/dte\.xml"):
        verify_file("/nonexistent/dte.xml")


def test_a_document_without_ted_fails(sii_samples: dict[str, bytes]) -> None:
    raw = sii_samples[SAMPLE_170]
    start, end = raw.index(b"<TED "), raw.index(b"</TED>") + len(b"</TED>")
    problems = failed(verify_file(raw[:start] + raw[end:]))
    assert problems["TED"] == "the document has no TED (timbre electrónico)"


def test_schema_errors_point_at_the_file_line(envelopes: dict[str, bytes], schemas: SiiSchemas) -> None:
    envelope = envelopes["EnvioDTE"]
    first = envelope.index(b"<MontoItem>800<")
    broken = envelope[:first] + b"<MontoItem>-800<" + envelope[first + len(b"<MontoItem>800<") :]
    line = broken[:first].count(b"\n") + 1
    verdict = verify_file(broken, schemas=schemas)
    problems = failed(verdict)
    assert problems["schema"] == (
        f"line {line}: Element 'MontoItem': '-800' is not a valid value of the atomic type 'MontoType'."
    )
    assert [check.name for check in verdict.envelope if not check.ok] == ["schema", "SetDTE XMLDSig"]
