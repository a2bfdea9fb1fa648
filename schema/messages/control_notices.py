"""What hub nodes tell each other when the back office changes a device or a user, a print job is queued,
or a user signs out (``hub.control``).

Each tenant's control stream carries them, written to the outbox in the change's own transaction, so they
are published after the commit, and again by the relay's sweep if the bus was away then. Only hub nodes
listen: it is no stream a client may follow (``hub.gateway.streams``). Its name stays ``devices``, what it
carried first: nodes of the previous version keep hearing the device notices during an upgrade.

``origin`` names the node that made the change; it acted on it already, and skips its own notice.

Decoded leniently (unknown fields ignored, unknown kinds skipped): nodes of two versions run side by side
during an upgrade.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

CONTROL_STREAM = "devices"


class ControlNotice(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    origin: str = ""


# -- devices ---------------------------------------------------------------------------------------------


class DeviceNotice(ControlNotice, frozen=True, kw_only=True, gc=False):
    device_id: uuid.UUID


class DeviceChanged(DeviceNotice, frozen=True, kw_only=True, gc=False):
    """A device's binding or settings changed, or it was registered: its actor reloads, printer lookups
    are forgotten."""


class DeviceRevoked(DeviceNotice, frozen=True, kw_only=True, gc=False):
    """A device was revoked: sockets authenticated as it close (4401), its actor lets its agent go."""


class PrintJobQueued(DeviceNotice, frozen=True, kw_only=True, gc=False):
    """A print job was queued for the printer on the node that took it: the node whose DeviceActor drives
    that printer (its agent's socket is there) picks the job up from the database."""

    job_id: uuid.UUID


# -- users: each closes the sockets it names (4401; a changed user's: 4409); they reconnect with what holds
# now, or are refused


class UserNotice(ControlNotice, frozen=True, kw_only=True, gc=False):
    user_id: uuid.UUID


class SessionRevoked(UserNotice, frozen=True, kw_only=True, gc=False):
    """A browser session was signed out: the sockets it opened close. ``session_id`` is the session's
    stored id (the SHA-256 of its secret, never the secret)."""

    session_id: str


class TokenRevoked(UserNotice, frozen=True, kw_only=True, gc=False):
    """An API token was revoked: the sockets it opened close. ``token_id`` is the token's stored id."""

    token_id: str


class UserChanged(UserNotice, frozen=True, kw_only=True, gc=False):
    """A user was deactivated or deleted, its role or store changed, or its sessions ended: every socket
    of the user closes (4409: reconnect; a credential that no longer holds is refused then)."""


NOTICES: dict[str, type[ControlNotice]] = {
    kind.__name__: kind
    for kind in (DeviceChanged, DeviceRevoked, PrintJobQueued, SessionRevoked, TokenRevoked, UserChanged)
}


def decode_notice(event: str, payload: Any) -> ControlNotice | None:
    """The notice of a bus event, or None for an event this node does not know (a newer node's).

    The payload comes as plain JSON values (from the outbox, or from Redis), or as ``msgspec.Raw`` when
    replayed. Raises ``msgspec.ValidationError`` / ``msgspec.DecodeError`` when it is not a notice."""
    kind = NOTICES.get(event)
    if kind is None:
        return None
    if isinstance(payload, kind):
        return payload
    if isinstance(payload, msgspec.Raw):
        return msgspec.json.decode(payload, type=kind)
    return msgspec.convert(payload, kind)
