"""The one error root of Storehub.

Every package raises subclasses of :class:`StorehubError`. Each class carries a stable machine ``code``
(sent to clients in WebSocket error frames and HTTP problem documents) and the HTTP status it maps to.
The mapping to the wire happens in one place, ``hub.problems``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class StorehubError(Exception):
    """Root of every error Storehub raises on purpose."""

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.__class__.__doc__ or self.code
        self.details = details
        super().__init__(self.message)


class ValidationError(StorehubError):
    """The input is not valid."""

    code = "invalid"
    status = 400


class NotFoundError(StorehubError):
    """The thing asked for does not exist (or belongs to another tenant)."""

    code = "not_found"
    status = 404


class ConflictError(StorehubError):
    """The request conflicts with the current state."""

    code = "conflict"
    status = 409


class AuthenticationError(StorehubError):
    """Not authenticated."""

    code = "unauthenticated"
    status = 401


class PermissionDeniedError(StorehubError):
    """Authenticated, but not allowed to do this."""

    code = "forbidden"
    status = 403


class RateLimitedError(StorehubError):
    """Too many attempts; try again later."""

    code = "rate_limited"
    status = 429


class UnavailableError(StorehubError):
    """A dependency is temporarily unavailable."""

    code = "unavailable"
    status = 503
