"""What hub nodes tell each other when the back office changes a device, or a print job is queued
(``hub.device_control``).

Each tenant's ``devices`` stream carries them, written to the outbox in the change's own transaction, so
they are published after the commit, and again by the relay's sweep if the bus was away then. Only hub nodes
listen: ``devices`` is no stream a client may follow (``hub.gateway.streams``).

``origin`` names the node that made the change; it acted on it already, and skips its own notice.

Decoded leniently (unknown fields ignored): nodes of two versions run side by side during an upgrade.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

DEVICES_STREAM = "devices"


class DeviceNotice(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    device_id: uuid.UUID
    origin: str = ""


class DeviceChanged(DeviceNotice, frozen=True, kw_only=True, gc=False):
    """A device's binding or settings changed, or it was registered: its actor reloads, printer lookups
    are forgotten."""


class DeviceRevoked(DeviceNotice, frozen=True, kw_only=True, gc=False):
    """A device was revoked: sockets authenticated as it close (4401), its actor lets its agent go."""


class PrintJobQueued(DeviceNotice, frozen=True, kw_only=True, gc=False):
    """A print job was queued for the printer on the node that took it: the node whose DeviceActor drives
    that printer (its agent's socket is there) picks the job up from the database."""

    job_id: uuid.UUID


NOTICES: dict[str, type[DeviceNotice]] = {
    kind.__name__: kind for kind in (DeviceChanged, DeviceRevoked, PrintJobQueued)
}


def decode_notice(event: str, payload: Any) -> DeviceNotice | None:
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
