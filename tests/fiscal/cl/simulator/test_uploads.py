"""Uploading envelopes and following them to a final state, over real HTTP against the simulator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from fiscal.certificates import load_pkcs12, make_test_certificate
from fiscal.cl.sii_auth import TokenCache
from fiscal.cl.sii_client import EnvelopeStatus, SiiClient
from fiscal.cl.sii_states import DocState, SiiAuthenticationError, SiiRejectedError
from tests.fiscal.cl.simulator.conftest import Simulator

Poll = Callable[[Callable[[], Awaitable[EnvelopeStatus]]], Awaitable[EnvelopeStatus]]


async def test_an_envio_dte_with_a_33_and_a_61_is_accepted(
    simulator: Simulator, client: SiiClient, envio_dte: bytes, company_rut: str, poll: Poll
) -> None:
    upload = await client.upload_dte(envio_dte, company_rut, company_rut)
    assert upload.status == "0" and upload.track_id and not upload.already_received
    track_id = upload.track_id

    first = await client.dte_envelope_status(track_id, company_rut)
    assert (first.sii_state, first.state, first.final) == ("REC", DocState.IN_PROCESS, False)
    assert first.state_of(33, 201) is DocState.IN_PROCESS

    status = await poll(lambda: client.dte_envelope_status(track_id, company_rut))
    assert (status.sii_state, status.state, status.reason) == ("EPR", DocState.ACCEPTED, "Envio Procesado")
    assert [(c.doc_type, c.informed, c.accepted, c.rejected, c.objections) for c in status.counts] == [
        (33, 1, 1, 0, 0),
        (61, 1, 1, 0, 0),
    ]
    assert status.state_of(33, 201) is DocState.ACCEPTED
    assert status.state_of(61, 201) is DocState.ACCEPTED


async def test_an_envio_boleta_is_accepted(
    simulator: Simulator, client: SiiClient, envio_boleta: bytes, company_rut: str, poll: Poll
) -> None:
    upload = await client.upload_boletas(envio_boleta, company_rut, company_rut)
    assert upload.status == "REC" and upload.track_id
    track_id = upload.track_id
    status = await poll(lambda: client.boleta_envelope_status(track_id, company_rut))
    assert (status.sii_state, status.state) == ("EPR", DocState.ACCEPTED)
    assert [(c.doc_type, c.informed, c.accepted) for c in status.counts] == [(39, 3, 3)]
    assert status.documents == ()
    assert [status.state_of(39, folio) for folio in (201, 202, 203)] == [DocState.ACCEPTED] * 3


async def test_the_same_envelope_twice_is_status_99_with_the_first_track_id(
    simulator: Simulator, client: SiiClient, envio_dte: bytes, company_rut: str
) -> None:
    first = await client.upload_dte(envio_dte, company_rut, company_rut)
    again = await client.upload_dte(envio_dte, company_rut, company_rut)
    assert (again.status, again.already_received, again.track_id) == ("99", True, first.track_id)
    counters = simulator.state.counters
    assert (counters["envelopes_received"], counters["duplicate_envelopes"]) == (1, 1)
    assert counters["conflicting_documents"] == 0


async def test_a_schema_invalid_envelope_is_status_7_and_rejected(
    simulator: Simulator, client: SiiClient, envio_dte: bytes, company_rut: str
) -> None:
    broken = envio_dte.replace(b"<NroResol>80</NroResol>", b"<NroResol>ochenta</NroResol>")
    assert broken != envio_dte
    with pytest.raises(SiiRejectedError) as rejected:
        await client.upload_dte(broken, company_rut, company_rut)
    assert rejected.value.sii_code == "7"
    assert "NroResol" in rejected.value.reason
    assert simulator.state.counters["schema_rejections"] == 1
    assert simulator.state.envelopes == {}


async def test_a_bad_signature_is_status_8_and_rejected(
    simulator: Simulator, client: SiiClient, envio_dte: bytes, company_rut: str
) -> None:
    tampered = envio_dte.replace(b"<TmstFirmaEnv>2025-03-20T10:30:00", b"<TmstFirmaEnv>2025-03-20T10:31:00")
    assert tampered != envio_dte
    with pytest.raises(SiiRejectedError) as rejected:
        await client.upload_dte(tampered, company_rut, company_rut)
    assert rejected.value.sii_code == "8"
    assert "SetDTE" in rejected.value.reason
    assert simulator.state.counters["signature_rejections"] == 1


async def test_a_schema_invalid_envio_boleta_is_received_then_rsc(
    simulator: Simulator, client: SiiClient, envio_boleta: bytes, company_rut: str, poll: Poll
) -> None:
    broken = envio_boleta.replace(b"<NroResol>0</NroResol>", b"<NroResol>cero</NroResol>")
    upload = await client.upload_boletas(broken, company_rut, company_rut)
    assert upload.status == "REC" and upload.track_id
    track_id = upload.track_id
    status = await poll(lambda: client.boleta_envelope_status(track_id, company_rut))
    assert (status.sii_state, status.state) == ("RSC", DocState.REJECTED)
    assert "NroResol" in status.reason
    assert status.state_of(39, 201) is DocState.REJECTED


async def test_the_same_folio_with_other_content_is_rejected_and_counted(
    simulator: Simulator,
    client: SiiClient,
    envio_dte: bytes,
    conflicting_dte: bytes,
    company_rut: str,
    poll: Poll,
) -> None:
    first = await client.upload_dte(envio_dte, company_rut, company_rut)
    second = await client.upload_dte(conflicting_dte, company_rut, company_rut)
    assert second.status == "0" and second.track_id != first.track_id
    track_id = second.track_id or ""
    status = await poll(lambda: client.dte_envelope_status(track_id, company_rut))
    assert status.sii_state == "EPR"
    assert [(c.doc_type, c.informed, c.accepted, c.rejected) for c in status.counts] == [(33, 1, 0, 1)]
    assert status.state_of(33, 201) is DocState.REJECTED
    assert simulator.state.counters["conflicting_documents"] == 1
    snapshot = await simulator.snapshot()
    assert snapshot["counters"]["conflicting_documents"] == 1
    [document] = snapshot["envelopes"][1]["documents"]
    assert (document["type"], document["folio"], document["state"]) == (33, 201, "RCH")
    assert "otro contenido" in document["reason"]


async def test_the_same_boleta_with_other_content_is_rch_with_the_reason(
    simulator: Simulator,
    client: SiiClient,
    envio_boleta: bytes,
    conflicting_boleta: bytes,
    company_rut: str,
    poll: Poll,
) -> None:
    await client.upload_boletas(envio_boleta, company_rut, company_rut)
    upload = await client.upload_boletas(conflicting_boleta, company_rut, company_rut)
    track_id = upload.track_id or ""
    status = await poll(lambda: client.boleta_envelope_status(track_id, company_rut))
    [document] = status.documents
    assert (document.doc_type, document.folio, document.sii_state, document.state) == (
        39,
        202,
        "RCH",
        DocState.REJECTED,
    )
    assert "otro contenido" in document.reason
    assert simulator.state.counters["conflicting_documents"] == 1


async def test_a_folio_chosen_for_rejection_is_rch_with_the_reason(
    simulator: Simulator, client: SiiClient, envio_boleta: bytes, company_rut: str, poll: Poll
) -> None:
    await simulator.set_faults(reject_folios={"39": [202]}, reject_reason="Folio anulado por el simulador")
    upload = await client.upload_boletas(envio_boleta, company_rut, company_rut)
    track_id = upload.track_id or ""
    status = await poll(lambda: client.boleta_envelope_status(track_id, company_rut))
    assert status.sii_state == "EPR"
    assert [(c.informed, c.accepted, c.rejected) for c in status.counts] == [(3, 2, 1)]
    [rejected] = status.documents
    assert (rejected.doc_type, rejected.folio, rejected.state) == (39, 202, DocState.REJECTED)
    assert "Folio anulado por el simulador" in rejected.reason
    assert status.state_of(39, 201) is DocState.ACCEPTED
    assert status.state_of(39, 202) is DocState.REJECTED


async def test_a_folio_chosen_for_objections_is_accepted_with_objections(
    simulator: Simulator, client: SiiClient, envio_dte: bytes, company_rut: str, poll: Poll
) -> None:
    await simulator.set_faults(objection_folios={"61": [201]})
    upload = await client.upload_dte(envio_dte, company_rut, company_rut)
    track_id = upload.track_id or ""
    status = await poll(lambda: client.dte_envelope_status(track_id, company_rut))
    assert status.state_of(33, 201) is DocState.ACCEPTED
    assert status.state_of(61, 201) is DocState.ACCEPTED_WITH_OBJECTIONS


async def test_a_caratula_that_does_not_match_the_upload_is_rct(
    simulator: Simulator, client: SiiClient, envio_dte: bytes, company_rut: str, other_rut: str, poll: Poll
) -> None:
    # The envelope is the company's; the upload says it is for another company.
    upload = await client.upload_dte(envio_dte, company_rut, other_rut)
    assert upload.status == "0"
    track_id = upload.track_id or ""
    status = await poll(lambda: client.dte_envelope_status(track_id, other_rut))
    assert (status.sii_state, status.state) == ("RCT", DocState.REJECTED)
    assert "diferente al Upload" in status.reason
    assert status.state_of(33, 201) is DocState.REJECTED


async def test_a_certificate_that_is_not_the_senders_is_not_authorized(
    simulator: Simulator,
    http: httpx.AsyncClient,
    envio_dte: bytes,
    envio_boleta: bytes,
    company_rut: str,
    other_rut: str,
) -> None:
    someone = load_pkcs12(make_test_certificate(other_rut, "Otra Persona", "x"), "x")
    client = SiiClient(http, simulator.endpoints, someone, TokenCache(), timeout=2)
    with pytest.raises(SiiAuthenticationError) as dte:
        await client.upload_dte(envio_dte, company_rut, company_rut)
    assert dte.value.sii_code == "1"
    with pytest.raises(SiiAuthenticationError) as boletas:
        await client.upload_boletas(envio_boleta, company_rut, company_rut)
    assert boletas.value.sii_code == "403"
    assert simulator.state.counters["uploads_by_wrong_sender"] == 2
    assert simulator.state.envelopes == {}
