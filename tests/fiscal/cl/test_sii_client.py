"""What an EnvelopeStatus says about each document (uploads and queries over HTTP: simulator/)."""

from __future__ import annotations

from fiscal.cl.sii_client import DocumentResult, EnvelopeStatus, TypeCount
from fiscal.cl.sii_states import DocState


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
