"""Errors only the gateway raises; codes are part of the wire protocol and never change."""

from __future__ import annotations

from schema.errors import StorehubError, ValidationError


class BadJsonError(ValidationError):
    """The frame is not valid JSON."""

    code = "bad_json"


class BadFrameError(ValidationError):
    """The frame is JSON but not an envelope: it needs a string ``type`` and an object ``payload``."""

    code = "bad_frame"


class UnknownTypeError(ValidationError):
    """No command of this type exists."""

    code = "unknown_type"


class FrameTooLargeError(StorehubError):
    """The frame is larger than the hub accepts."""

    code = "frame_too_large"
    status = 413


class TooManySubscriptionsError(StorehubError):
    """This socket already follows as many streams as allowed."""

    code = "too_many_subscriptions"
    status = 429


class ChangedWhileConnectingError(StorehubError):
    """The socket's credential gives another principal than a moment ago (its user's role or store changed
    while it connected): closed with 4409, the client reconnects and gets the new one."""

    code = "changed"
    status = 409
