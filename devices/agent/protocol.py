"""The agent's side of the wire: frame shapes, the hub's URL, backoff, and what a refusal means.

The protocol itself is :mod:`schema.messages.devices` and :mod:`schema.wire`; this module only adds what
the agent needs around it: a frame struct that keeps the payload raw until its type is known (one decode,
straight into its struct), the close codes after which reconnecting is pointless, and the error codes
after which sending an ack again is pointless.
"""

from __future__ import annotations

import math
import random
import uuid
from typing import Any

import msgspec

from devices.errors import DeviceError
from devices.scales.reading import WeightReading
from schema.messages.devices import AgentWelcome, DeviceWeight

__all__ = [
    "PERMANENT_ACK_ERRORS",
    "REVOKED_CODES",
    "AgentRevokedError",
    "ClientFrame",
    "HubReplyError",
    "Incoming",
    "backoff_delay",
    "decode_incoming",
    "decode_welcome",
    "encode_frame",
    "weight_frame",
    "ws_url",
]

REVOKED_CODES = frozenset({4401, 4403})
# Error codes that say the ack itself is wrong (the job is not the agent's, or unknown): sending it again
# gets the same answer, so it leaves the outbox. Anything else (the hub busy, an actor restarting) stays.
PERMANENT_ACK_ERRORS = frozenset({"invalid", "not_found", "forbidden", "conflict"})
_MAX_AGE_MS = 86_400_000


class AgentRevokedError(DeviceError):
    """The hub closed the socket with 4401/4403: the device token is unknown or revoked."""

    code = "agent_revoked"
    status = 401


class HubReplyError(Exception):
    """The hub answered a command with an error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class ClientFrame(msgspec.Struct, frozen=True):
    id: str
    type: str
    payload: Any


class Incoming(msgspec.Struct, frozen=True, kw_only=True):
    """Any hub frame; the payload stays raw so it is decoded once, straight into its own struct."""

    type: str
    id: str | None = None
    name: str = ""
    code: str = ""
    message: str = ""
    payload: msgspec.Raw = msgspec.Raw(b"null")


_incoming = msgspec.json.Decoder(Incoming)
_welcome = msgspec.json.Decoder(AgentWelcome)
_encoder = msgspec.json.Encoder()


def decode_incoming(data: str | bytes) -> Incoming:
    return _incoming.decode(data)


def decode_welcome(payload: msgspec.Raw) -> AgentWelcome:
    return _welcome.decode(payload)


def encode_frame(frame: ClientFrame) -> str:
    """Text frames: the gateway reads either, and text is what a person debugging the socket can read."""
    return _encoder.encode(frame).decode()


def ws_url(hub_url: str) -> str:
    """``http(s)://host[/prefix]`` (or ``ws(s)://``) to the gateway's ``ws(s)://host[/prefix]/ws``."""
    url = hub_url.strip().rstrip("/")
    for plain, secure in (("http://", "ws://"), ("https://", "wss://")):
        if url.startswith(plain):
            url = secure + url[len(plain) :]
    if not url.startswith(("ws://", "wss://")):
        raise ValueError(f"hub URL {hub_url!r} must start with http://, https://, ws:// or wss://")
    return url if url.endswith("/ws") else url + "/ws"


def backoff_delay(attempt: int, base: float, maximum: float) -> float:
    """Doubling from ``base`` up to ``maximum``, each delay drawn from its upper half.

    The jitter spreads the agents of many stores that all lost the hub at once (a hub restart).
    """
    return min(maximum, math.ldexp(base, min(attempt, 60))) * random.uniform(0.5, 1.0)


def weight_frame(device_id: uuid.UUID, reading: WeightReading, read_at: float, now: float) -> DeviceWeight:
    return DeviceWeight(
        device_id=device_id,
        # The hub's bounds: an overloaded scale may show more than it may report.
        grams=max(-100_000, min(1_000_000, reading.grams)),
        stable=reading.stable,
        overload=reading.overload,
        under_zero=reading.under_zero,
        age_ms=max(0, min(_MAX_AGE_MS, int((now - read_at) * 1000))),
    )
