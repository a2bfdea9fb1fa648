"""The one place errors become wire errors.

HTTP: every exception leaves as an RFC 9457 ``application/problem+json`` document::

    {"type": "urn:storehub:problem:not_found", "title": "Not found", "status": 404,
     "code": "not_found", "detail": "product not found", ...details}

WebSocket: :func:`error_frame` turns the same exceptions into :class:`schema.wire.ErrorFrame` with the same
codes. Storehub errors carry their own ``code``/``status``; Litestar's HTTP exceptions map by status;
anything else is ``internal_error`` and its text never reaches the client (it is logged with a traceback).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.exceptions import ValidationException as LitestarValidationException
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import IntegrityError

from hub.logs import request_id_var
from schema.errors import StorehubError

if TYPE_CHECKING:
    from schema.wire import ErrorFrame

log = logging.getLogger("hub.problems")

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:storehub:problem:"
INTERNAL_MESSAGE = "internal error"

# Codes for errors that are not StorehubErrors (Litestar's own exceptions), by HTTP status.
STATUS_CODES: dict[int, str] = {
    400: "invalid",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}

TITLES: dict[str, str] = {
    "invalid": "Invalid request",
    "unauthenticated": "Not authenticated",
    "forbidden": "Forbidden",
    "not_found": "Not found",
    "method_not_allowed": "Method not allowed",
    "conflict": "Conflict",
    "too_large": "Request too large",
    "unsupported_media_type": "Unsupported media type",
    "rate_limited": "Too many requests",
    "internal_error": "Internal error",
    "unavailable": "Service unavailable",
}

_RESERVED = frozenset({"type", "title", "status", "code", "detail", "instance"})


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """An error as it goes on the wire: used by both the HTTP and the WebSocket edge."""

    status: int
    code: str
    message: str
    details: dict[str, Any] = {}
    headers: dict[str, str] = {}


def problem_of(exc: BaseException) -> Problem:
    """Classify any exception. Unknown ones are logged with their traceback and reported as internal."""
    if isinstance(exc, StorehubError):
        headers: dict[str, str] = {}
        retry_after = exc.details.get("retry_after")
        if isinstance(retry_after, int | float):
            headers["Retry-After"] = str(max(1, int(retry_after + 0.999)))
        return Problem(
            status=exc.status,
            code=exc.code,
            message=exc.message,
            details=_jsonable(exc.details),
            headers=headers,
        )
    if isinstance(exc, LitestarValidationException):
        details: dict[str, Any] = {}
        if exc.extra:
            details["errors"] = _jsonable({"e": exc.extra})["e"]
        return Problem(status=400, code="invalid", message=_clean_detail(exc.detail), details=details)
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        code = STATUS_CODES.get(exc.status_code, "error")
        return Problem(
            status=exc.status_code,
            code=code,
            message=_clean_detail(exc.detail),
            headers=dict(exc.headers or {}),
        )
    if isinstance(exc, HTTPException) and exc.status_code == 503:
        return Problem(status=503, code="unavailable", message="service unavailable")
    if isinstance(exc, msgspec.ValidationError | msgspec.DecodeError):
        return Problem(status=400, code="invalid", message=str(exc))
    if isinstance(exc, IntegrityError):
        # A unique or foreign key constraint fired that a handler did not check first: never show the SQL.
        log.warning("integrity error reached the edge: %s", exc.orig)
        return Problem(status=409, code="conflict", message="conflicts with existing data")
    if isinstance(exc, TimeoutError):
        return Problem(status=503, code="unavailable", message="timed out")
    log.error("unhandled %s", type(exc).__name__, exc_info=exc)
    return Problem(status=500, code="internal_error", message=INTERNAL_MESSAGE)


def problem_response(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    problem = problem_of(exc)
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + problem.code,
        "title": TITLES.get(problem.code, problem.code.replace("_", " ").capitalize()),
        "status": problem.status,
        "code": problem.code,
        "detail": problem.message,
    }
    body.update({k: v for k, v in problem.details.items() if k not in _RESERVED})
    request_id = request_id_var.get()
    if request_id:
        body["request_id"] = request_id
    return Response(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers)


def error_frame(exc: BaseException, command_id: str | None) -> ErrorFrame:
    """The WebSocket twin of :func:`problem_response`: same codes, same messages."""
    from schema.wire import ErrorFrame  # the HTTP app must not depend on the WebSocket wire module

    problem = problem_of(exc)
    return ErrorFrame(id=command_id, code=problem.code, message=problem.message, details=problem.details)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {Exception: problem_response}


def _clean_detail(detail: str) -> str:
    return detail or "error"


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    """Details must survive JSON encoding; anything exotic is turned into a string."""
    try:
        result: dict[str, Any] = msgspec.to_builtins(details, str_keys=True, enc_hook=str)
    except (TypeError, msgspec.EncodeError):
        return {str(k): str(v) for k, v in details.items()}
    return result
