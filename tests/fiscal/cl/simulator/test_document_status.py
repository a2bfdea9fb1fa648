"""QueryEstDte (``getEstDte``) over real HTTP: what SII holds for one DTE, asked by the client, answered by
the simulator from the documents it decided at upload."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta

import httpx
import pytest
from lxml import etree

from fiscal.certificates import Signer
from fiscal.cl.envelope import build_envio_dte
from fiscal.cl.pipeline import dte_query_data
from fiscal.cl.sii_auth import read_respuesta, soap_call
from fiscal.cl.sii_client import DocumentResult, EnvelopeStatus, SiiClient
from fiscal.cl.sii_states import DocState, RetryableSiiError
from tests.fiscal.cl.simulator.conftest import RESOLUTION, SIGNED_AT, Build, Simulator

Poll = Callable[[Callable[[], Awaitable[EnvelopeStatus]]], Awaitable[EnvelopeStatus]]
Data = dict[tuple[int, int], tuple[str, date, int]]


def query_data(envelope: bytes) -> Data:
    """(type, folio) -> what QueryEstDte asks about each DTE of ``envelope`` (the pipeline's helper)."""
    data: Data = {}
    for dte in etree.fromstring(envelope).findall("{*}SetDTE/{*}DTE"):
        id_doc = "{*}Documento/{*}Encabezado/{*}IdDoc/"
        key = (int(dte.findtext(id_doc + "{*}TipoDTE") or 0), int(dte.findtext(id_doc + "{*}Folio") or 0))
        data[key] = dte_query_data(etree.tostring(dte))
    return data


@pytest.fixture(scope="session")
def three_facturas(build: Build, company_rut: str, signer: Signer) -> bytes:
    facturas = [build(33, folio) for folio in (301, 302, 303)]
    return build_envio_dte(facturas, company_rut, company_rut, RESOLUTION, 80, signer, SIGNED_AT)


async def ask(client: SiiClient, company_rut: str, data: Data, doc_type: int, folio: int) -> DocumentResult:
    receiver, issued, total = data[(doc_type, folio)]
    return await client.document_status(company_rut, receiver, doc_type, folio, issued, total)


async def test_accepted_documents_are_dok(
    simulator: Simulator, client: SiiClient, envio_dte: bytes, company_rut: str, poll: Poll
) -> None:
    data = query_data(envio_dte)
    assert data[(33, 201)][0] == "96874030-K" and data[(33, 201)][1] == date(2025, 3, 20)
    upload = await client.upload_dte(envio_dte, company_rut, company_rut)
    track_id = upload.track_id or ""
    await poll(lambda: client.dte_envelope_status(track_id, company_rut))
    for doc_type in (33, 61):
        receiver, issued, total = data[(doc_type, 201)]
        result = await client.document_status(company_rut, receiver, doc_type, 201, issued, total)
        assert (result.doc_type, result.folio, result.sii_state, result.state) == (
            doc_type,
            201,
            "DOK",
            DocState.ACCEPTED,
        )
        assert "Datos Coinciden" in result.reason
    assert simulator.state.counters["document_queries"] == 2


async def test_with_some_facturas_rejected_the_envelope_gives_counts_and_each_folio_its_state(
    simulator: Simulator, client: SiiClient, three_facturas: bytes, company_rut: str, poll: Poll
) -> None:
    await simulator.set_faults(reject_folios={"33": [302]}, reject_reason="Folio anulado por el simulador")
    upload = await client.upload_dte(three_facturas, company_rut, company_rut)
    track_id = upload.track_id or ""
    status = await poll(lambda: client.dte_envelope_status(track_id, company_rut))
    # Like SII's QueryEstUp: counts, no folios; which one was rejected is QueryEstDte's to say.
    assert (status.sii_state, status.documents) == ("EPR", ())
    assert [(c.doc_type, c.informed, c.accepted, c.rejected) for c in status.counts] == [(33, 3, 2, 1)]
    assert [status.state_of(33, folio) for folio in (301, 302, 303)] == [None, None, None]
    data = query_data(three_facturas)
    results = {folio: await ask(client, company_rut, data, 33, folio) for folio in (301, 302, 303)}
    assert {folio: (r.sii_state, r.state) for folio, r in results.items()} == {
        301: ("DOK", DocState.ACCEPTED),
        302: ("FAU", DocState.IN_PROCESS),  # SII holds only what it accepted: "not received"
        303: ("DOK", DocState.ACCEPTED),
    }
    assert "No Recibido" in results[302].reason
    assert "Folio anulado por el simulador" in results[302].reason


async def test_a_folio_is_not_received_until_its_envelope_is_processed(
    simulator: Simulator, client: SiiClient, envio_dte: bytes, company_rut: str, poll: Poll
) -> None:
    data = query_data(envio_dte)
    upload = await client.upload_dte(envio_dte, company_rut, company_rut)
    early = await ask(client, company_rut, data, 33, 201)
    assert (early.sii_state, early.state, early.state.final) == ("FAU", DocState.IN_PROCESS, False)
    track_id = upload.track_id or ""
    await poll(lambda: client.dte_envelope_status(track_id, company_rut))
    assert (await ask(client, company_rut, data, 33, 201)).sii_state == "DOK"


async def test_an_unknown_folio_is_fau_and_other_data_are_dnk(
    simulator: Simulator, client: SiiClient, envio_dte: bytes, company_rut: str, other_rut: str, poll: Poll
) -> None:
    receiver, issued, total = query_data(envio_dte)[(33, 201)]
    upload = await client.upload_dte(envio_dte, company_rut, company_rut)
    track_id = upload.track_id or ""
    await poll(lambda: client.dte_envelope_status(track_id, company_rut))
    unknown = await client.document_status(company_rut, receiver, 33, 999, issued, total)
    assert (unknown.sii_state, unknown.state) == ("FAU", DocState.IN_PROCESS)
    assert unknown.reason == "DTE No Recibido: Documento No Recibido por el SII"
    other_company = await client.document_status(other_rut, receiver, 33, 201, issued, total)
    assert other_company.sii_state == "FAU"
    for asked in (
        (other_rut, issued, total),
        (receiver, issued + timedelta(days=1), total),
        (receiver, issued, total + 1),
    ):
        result = await client.document_status(company_rut, asked[0], 33, 201, asked[1], asked[2])
        assert (result.sii_state, result.state) == ("DNK", DocState.IN_PROCESS), asked
        assert "NO Coinciden" in result.reason
    assert simulator.state.counters["document_queries_not_matching"] == 3


async def test_a_refused_token_is_replaced_once(
    simulator: Simulator, client: SiiClient, envio_dte: bytes, company_rut: str
) -> None:
    receiver, issued, total = query_data(envio_dte)[(33, 201)]
    await client.document_status(company_rut, receiver, 33, 201, issued, total)
    assert client.tokens.fetches == 1
    await simulator.set_faults(token_expiry={"next": 1})  # SII answers 002 "Token Inactivo"
    result = await client.document_status(company_rut, receiver, 33, 201, issued, total)
    assert result.sii_state == "FAU" and client.tokens.fetches == 2
    assert simulator.state.counters["fault_token_expiry"] == 1
    simulator.state.tokens.clear()  # SII forgot it: 003 "Token No Existe"
    await client.document_status(company_rut, receiver, 33, 201, issued, total)
    assert client.tokens.fetches == 3
    assert simulator.state.counters["requests_with_unknown_token"] == 1


async def test_a_token_refused_twice_is_retryable(
    simulator: Simulator, client: SiiClient, envio_dte: bytes, company_rut: str
) -> None:
    receiver, issued, total = query_data(envio_dte)[(33, 201)]
    await simulator.set_faults(token_expiry={"next": 2})
    with pytest.raises(RetryableSiiError) as failed:
        await client.document_status(company_rut, receiver, 33, 201, issued, total)
    assert failed.value.details["kind"] == "token"
    assert simulator.state.counters["document_queries"] == 0


async def test_an_html_page_is_retryable(
    simulator: Simulator, client: SiiClient, envio_dte: bytes, company_rut: str
) -> None:
    receiver, issued, total = query_data(envio_dte)[(33, 201)]
    await simulator.set_faults(html={"next": 1}, paths=["QueryEstDte"])
    with pytest.raises(RetryableSiiError) as failed:
        await client.document_status(company_rut, receiver, 33, 201, issued, total)
    assert failed.value.details["kind"] == "html"
    assert simulator.state.counters["fault_html"] == 1
    assert (await client.document_status(company_rut, receiver, 33, 201, issued, total)).sii_state == "FAU"


async def test_a_malformed_query_is_an_input_error(
    simulator: Simulator, http: httpx.AsyncClient, client: SiiClient, company_rut: str
) -> None:
    await client.document_status(company_rut, company_rut, 33, 1, date(2025, 3, 20), 1)  # a token for us
    [token] = simulator.state.tokens
    body, dv = company_rut.split("-")
    params = [("RutConsultante", body), ("DvConsultante", dv), ("RutCompania", body), ("DvCompania", dv),
              ("RutReceptor", body), ("DvReceptor", dv), ("TipoDte", "33"), ("FolioDte", "1"),
              ("FechaEmisionDte", "2025-03-20"), ("MontoDte", "1"), ("Token", token)]  # fmt: skip
    root = await soap_call(
        http, simulator.endpoints.query_document_url, "getEstDte", params, what="t", time_limit=2
    )
    answer = read_respuesta(root, "t")
    assert (answer.estado, answer.header["SRV_CODE"]) == ("-1", "1")
    assert "DDMMAAAA" in answer.glosa
    assert simulator.state.counters["document_queries_refused"] == 1


async def test_parts_may_come_by_position(
    simulator: Simulator, http: httpx.AsyncClient, client: SiiClient, company_rut: str
) -> None:
    """Axis matches rpc parts by position, so a client with other part names is still understood."""
    await client.document_status(company_rut, company_rut, 33, 1, date(2025, 3, 20), 1)
    [token] = simulator.state.tokens
    body, dv = company_rut.split("-")
    values = [body, dv, body, dv, body, dv, "33", "1", "20032025", "1", token]
    params = [(f"p{index}", value) for index, value in enumerate(values)]
    root = await soap_call(
        http, simulator.endpoints.query_document_url, "getEstDte", params, what="t", time_limit=2
    )
    assert read_respuesta(root, "t").estado == "FAU"


def test_the_query_data_come_from_the_signed_dte(build: Build) -> None:
    dte = etree.tostring(build(61, 7), encoding="ISO-8859-1", xml_declaration=True)
    receiver, issued, total = dte_query_data(dte)
    assert (receiver, issued) == ("96874030-K", date(2025, 3, 20))
    assert f"<MntTotal>{total}</MntTotal>".encode() in dte
    with pytest.raises(ValueError, match="not XML"):
        dte_query_data(b"<DTE")
    with pytest.raises(ValueError, match="RUTRecep"):
        dte_query_data(dte.replace(b"<FchEmis>2025-03-20", b"<FchEmis>20-03-2025"))
