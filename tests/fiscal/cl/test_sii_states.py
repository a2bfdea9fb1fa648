"""Every SII code maps to the document state, upload outcome and error the brief and SII's manuals say."""

from __future__ import annotations

import pytest

from fiscal.cl.sii_states import (
    DOCUMENT_QUERY_CODES,
    DOCUMENT_QUERY_REFUSALS,
    DOCUMENT_QUERY_STATES,
    DocState,
    RetryableSiiError,
    SiiAuthenticationError,
    SiiRejectedError,
    UploadOutcome,
    document_query_state,
    document_state,
    envelope_state,
    is_known_envelope_code,
    upload_outcome,
)
from fiscal.errors import FiscalError
from schema.errors import StorehubError


@pytest.mark.parametrize(
    ("codes", "state"),
    [
        (["EPR"], DocState.ACCEPTED),
        (["RPR", "RLV"], DocState.ACCEPTED_WITH_OBJECTIONS),
        (["RSC", "RCH", "RPT", "RFR", "VOF", "RCT", "RCO"], DocState.REJECTED),
        (["REC", "SOK", "FOK", "PDR", "PRD", "CRT"], DocState.IN_PROCESS),
    ],
)
def test_envelope_states(codes: list[str], state: DocState) -> None:
    for code in codes:
        assert envelope_state(code) is state, code
        assert envelope_state(f" {code.lower()} ") is state
        assert is_known_envelope_code(code)


def test_an_unknown_envelope_code_is_not_taken_for_final() -> None:
    assert envelope_state("XYZ") is DocState.IN_PROCESS
    assert not is_known_envelope_code("XYZ")
    assert not envelope_state("").final


def test_document_states() -> None:
    assert document_state("DOK") is DocState.ACCEPTED
    assert document_state("RPR") is DocState.ACCEPTED_WITH_OBJECTIONS
    assert document_state("RLV") is DocState.ACCEPTED_WITH_OBJECTIONS
    assert document_state("rch") is DocState.REJECTED
    assert document_state("EPR") is None


@pytest.mark.parametrize(
    ("codes", "state"),
    [
        (["DOK", "TMD", "TMC", "MMD", "MMC", "AND", "ANC"], DocState.ACCEPTED),  # held (a note came later)
        (["FNA", "FAN"], DocState.REJECTED),  # folio not authorized / annulled: never valid
        (["FAU", "DNK"], DocState.IN_PROCESS),  # not held (yet) / held with other data: never settle alone
    ],
)
def test_query_est_dte_states(codes: list[str], state: DocState) -> None:
    for code in codes:
        assert document_query_state(code) is state, code
        assert document_query_state(f" {code.lower()} ") is state


def test_query_est_dte_codes_are_all_placed() -> None:
    # Every code SII's manual lists is either mapped or refused (EMP: about the company, a person must act).
    assert set(DOCUMENT_QUERY_CODES) == set(DOCUMENT_QUERY_STATES) | DOCUMENT_QUERY_REFUSALS
    assert document_query_state("EMP") is DocState.IN_PROCESS  # the client raises before mapping it
    assert document_query_state("XYZ") is DocState.IN_PROCESS  # unknown: never guessed final
    assert DOCUMENT_QUERY_CODES["FAU"] == ("3", "Documento No Recibido por el SII")


def test_final_states() -> None:
    assert {state for state in DocState if state.final} == {
        DocState.ACCEPTED,
        DocState.ACCEPTED_WITH_OBJECTIONS,
        DocState.REJECTED,
    }
    assert [state.value for state in DocState] == [
        "pending",
        "signed",
        "sent",
        "in_process",
        "accepted",
        "accepted_with_objections",
        "rejected",
    ]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (0, UploadOutcome.ACCEPTED_FOR_PROCESSING),
        (1, UploadOutcome.NOT_AUTHORIZED),
        (2, UploadOutcome.REJECTED),
        (3, UploadOutcome.RETRY),
        (5, UploadOutcome.REFRESH_TOKEN),
        (6, UploadOutcome.NOT_AUTHORIZED),
        (7, UploadOutcome.REJECTED),
        (8, UploadOutcome.REJECTED),
        (9, UploadOutcome.RETRY),
        (99, UploadOutcome.ALREADY_RECEIVED),
        (4, UploadOutcome.RETRY),
        (12, UploadOutcome.RETRY),
    ],
)
def test_upload_statuses(status: int, outcome: UploadOutcome) -> None:
    assert upload_outcome(status)[0] is outcome
    assert upload_outcome(status)[1]


def test_errors_keep_their_stable_code_and_carry_sii_s() -> None:
    rejected = SiiRejectedError("7", "schema")
    assert (rejected.code, rejected.sii_code, rejected.reason) == ("sii_rejected", "7", "schema")
    assert rejected.details["sii_code"] == "7"
    retry = RetryableSiiError("HTTP 429", 12.5)
    assert (retry.code, retry.status, retry.retry_after) == ("sii_unavailable", 503, 12.5)
    refused = SiiAuthenticationError("05", "firma invalida")
    assert refused.code == "sii_not_authorized"
    for error in (rejected, retry, refused):
        assert isinstance(error, FiscalError)
        assert isinstance(error, StorehubError)
        assert error.message
