"""What an EnvelopeStatus says about each document, and QueryEstDte's request and answers on the wire (uploads
and queries against the simulator: simulator/)."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from lxml import etree

from fiscal.certificates import Signer, rut_of
from fiscal.cl.sii_auth import DTE, TokenCache, TokenKey
from fiscal.cl.sii_client import DocumentResult, EnvelopeStatus, SiiClient, TypeCount
from fiscal.cl.sii_endpoints import SiiEndpoints
from fiscal.cl.sii_states import DocState, RetryableSiiError, SiiAuthenticationError
from fiscal.cl.simulator import wire


def test_while_in_process_every_document_is_in_process() -> None:
    status = EnvelopeStatus("1", "SOK")
    assert (status.state, status.final) == (DocState.IN_PROCESS, False)
    assert status.state_of(33, 1) is DocState.IN_PROCESS


def test_a_rejected_envelope_rejects_every_document() -> None:
    status = EnvelopeStatus("1", "RFR", "Rechazado por Error en Firma")
    assert status.final
    assert status.state_of(33, 1) is DocState.REJECTED


def test_query_est_up_counts_tell_when_a_type_is_unanimous() -> None:
    status = EnvelopeStatus(
        "1",
        "EPR",
        counts=(
            TypeCount(33, 2, 2, 0, 0),
            TypeCount(61, 1, 0, 1, 0),
            TypeCount(56, 1, 0, 0, 1),
            TypeCount(34, 3, 2, 1, 0),
        ),
    )
    assert status.state is DocState.ACCEPTED  # the envelope; its documents differ
    assert status.state_of(33, 5) is DocState.ACCEPTED
    assert status.state_of(61, 5) is DocState.REJECTED
    assert status.state_of(56, 5) is DocState.ACCEPTED_WITH_OBJECTIONS
    assert status.state_of(34, 5) is None  # which of the three was rejected: SII mails it
    assert status.state_of(52, 5) is None  # not in the envelope


def test_boleta_details_list_every_objection_and_rejection() -> None:
    rejected = DocumentResult(39, 7, "RCH", DocState.REJECTED, "Dte Rechazado")
    status = EnvelopeStatus("1", "EPR", documents=(rejected,), itemized=True)
    assert status.state_of(39, 7) is DocState.REJECTED
    assert status.state_of(39, 8) is DocState.ACCEPTED


# --- QueryEstDte (getEstDte): the request SII gets and what each answer becomes ---

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


ENDPOINTS = SiiEndpoints.certification()


def est_dte_answer(header: list[tuple[str, str]]) -> bytes:
    return wire.soap_answer(ENDPOINTS.query_document_url, "getEstDte", wire.respuesta(header))


async def client_answering(
    signer: Signer, answer: bytes, seen: list[httpx.Request] | None = None
) -> tuple[SiiClient, httpx.AsyncClient]:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(200, content=answer, headers={"content-type": "text/xml; charset=utf-8"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    tokens = TokenCache()

    async def issued() -> str:
        return "TOKEN1"

    await tokens.get(TokenKey.of(ENDPOINTS, DTE, signer), issued)  # no seed/token round trip here
    return SiiClient(http, ENDPOINTS, signer, tokens, timeout=2), http


async def test_get_est_dte_sends_sii_s_eleven_parts_in_order(signer: Signer, company_rut: str) -> None:
    seen: list[httpx.Request] = []
    answer = est_dte_answer([("ESTADO", "DOK"), ("GLOSA_ESTADO", "DTE Recibido"), ("ERR_CODE", "0")])
    client, http = await client_answering(signer, answer, seen)
    async with http:
        result = await client.document_status(company_rut, "96.874.030-k", 33, 170, date(2025, 3, 7), 1190)
    assert (result.folio, result.sii_state, result.state) == (170, "DOK", DocState.ACCEPTED)
    [request] = seen
    assert str(request.url) == "https://maullin.sii.cl/DTEWS/QueryEstDte.jws"
    [call] = etree.fromstring(request.content).iterfind(f"{{{SOAP_ENV}}}Body/*")
    assert etree.QName(call).localname == "getEstDte"
    holder, holder_dv = rut_of(signer.certificate).split("-")
    company, company_dv = company_rut.split("-")
    assert [(part.tag, part.text) for part in call] == [
        ("RutConsultante", holder),
        ("DvConsultante", holder_dv),
        ("RutCompania", company),
        ("DvCompania", company_dv),
        ("RutReceptor", "96874030"),
        ("DvReceptor", "K"),
        ("TipoDte", "33"),
        ("FolioDte", "170"),
        ("FechaEmisionDte", "07032025"),  # DDMMAAAA
        ("MontoDte", "1190"),
        ("Token", "TOKEN1"),
    ]


@pytest.mark.parametrize(
    ("estado", "state"),
    [
        ("DOK", DocState.ACCEPTED),
        ("MMC", DocState.ACCEPTED),  # a credit note changed its amounts later: it was accepted
        ("ANC", DocState.ACCEPTED),  # a credit note voided it later: it was accepted
        ("FNA", DocState.REJECTED),
        ("FAN", DocState.REJECTED),
        ("FAU", DocState.IN_PROCESS),  # not received: not yet, or rejected; the counts decide
        ("DNK", DocState.IN_PROCESS),  # SII holds other data under this folio
        ("XYZ", DocState.IN_PROCESS),  # unknown: never guessed final
    ],
)
async def test_get_est_dte_answers(signer: Signer, company_rut: str, estado: str, state: DocState) -> None:
    header = [("ESTADO", estado), ("GLOSA_ESTADO", "DTE X"), ("ERR_CODE", "9"), ("GLOSA_ERR", "Detalle")]
    client, http = await client_answering(signer, est_dte_answer(header))
    async with http:
        result = await client.document_status(company_rut, company_rut, 33, 1, date(2025, 3, 7), 1)
    assert (result.sii_state, result.state, result.reason) == (estado, state, "DTE X: Detalle")


async def test_get_est_dte_errors(signer: Signer, company_rut: str) -> None:
    async def ask(header: list[tuple[str, str]]) -> None:
        client, http = await client_answering(signer, est_dte_answer(header))
        async with http:
            await client.document_status(company_rut, company_rut, 33, 1, date(2025, 3, 7), 1)

    with pytest.raises(SiiAuthenticationError) as refused:  # about the company, not the document
        await ask([("ESTADO", "EMP"), ("GLOSA_ERR", "Empresa no autorizada")])
    assert refused.value.sii_code == "EMP"
    with pytest.raises(RetryableSiiError) as failed:
        await ask([("ESTADO", "-1"), ("GLOSA", "Error en Entrada"), ("SRV_CODE", "1")])
    assert failed.value.details["kind"] == "sii" and "SRV_CODE 1" in failed.value.reason
    with pytest.raises(RetryableSiiError) as garbled:
        await ask([("GLOSA", "nada")])
    assert garbled.value.details["kind"] == "sii"
