"""One code table for HTTP problems and WebSocket error frames."""

from __future__ import annotations

import msgspec
import pytest
from litestar.exceptions import NotFoundException, ValidationException

from hub.problems import error_frame, problem_of
from schema.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    StorehubError,
    UnavailableError,
    ValidationError,
)
from schema.wire import ErrorFrame


@pytest.mark.parametrize(
    ("exc", "code", "status"),
    [
        (ValidationError("bad"), "invalid", 400),
        (AuthenticationError(), "unauthenticated", 401),
        (PermissionDeniedError(), "forbidden", 403),
        (NotFoundError(), "not_found", 404),
        (ConflictError(), "conflict", 409),
        (RateLimitedError(retry_after=3), "rate_limited", 429),
        (UnavailableError(), "unavailable", 503),
        (ValidationException("bad body"), "invalid", 400),
        (NotFoundException(), "not_found", 404),
        (msgspec.ValidationError("Expected `int`"), "invalid", 400),
        (TimeoutError(), "unavailable", 503),
        (KeyError("secret"), "internal_error", 500),
    ],
)
def test_codes(exc: BaseException, code: str, status: int) -> None:
    problem = problem_of(exc)
    assert (problem.code, problem.status) == (code, status)
    frame = error_frame(exc, "c-1")
    assert isinstance(frame, ErrorFrame)
    assert frame.code == code and frame.id == "c-1"


def test_custom_subclasses_keep_their_code_and_details() -> None:
    class FolioExhausted(ConflictError):
        code = "folio_exhausted"

    frame = error_frame(FolioExhausted("no folios left", document_type=39), None)
    assert frame == ErrorFrame(
        id=None, code="folio_exhausted", message="no folios left", details={"document_type": 39}
    )
    assert problem_of(FolioExhausted()).status == 409


def test_internal_errors_hide_their_text() -> None:
    frame = error_frame(RuntimeError("password=hunter2"), "x")
    assert frame.message == "internal error" and "hunter2" not in msgspec.json.encode(frame).decode()
    assert problem_of(StorehubError("boom")).code == "internal_error"


def test_retry_after_header_and_odd_details() -> None:
    problem = problem_of(RateLimitedError(retry_after=2.2, when=object()))
    assert problem.headers == {"Retry-After": "3"}
    msgspec.json.encode(problem.details)  # always encodable
