"""The shape every scale protocol has, and the registry that picks one by name.

A protocol is pure bytes: what to send to ask for a weight (or to tare, zero) and an incremental parser
that turns whatever the port delivered into readings. It knows nothing of ports or time, so it is tested
byte by byte and shared by the serial reader and the virtual scale's tests.
"""

from __future__ import annotations

from typing import Protocol

from devices.errors import ScaleProtocolError
from devices.scales.cas_pd2 import CasPd2
from devices.scales.reading import WeightReading
from devices.scales.toledo8217 import Toledo8217

__all__ = ["PROTOCOLS", "ScaleProtocol", "protocol_for"]


class ScaleProtocol(Protocol):
    """One scale protocol's bytes and its parser state (one instance per connection)."""

    name: str
    rejected: int
    """Frames and runs of bytes dropped because they were not valid frames."""
    last_error: str | None
    """Why the last rejected bytes were rejected."""

    def poll_request(self) -> bytes:
        """The bytes that ask the scale for a weight."""
        ...

    def tare_request(self) -> bytes | None:
        """The bytes of a tare command, or None if the protocol has none."""
        ...

    def zero_request(self) -> bytes | None:
        """The bytes of a zero command, or None if the protocol has none."""
        ...

    def take_output(self) -> bytes:
        """Bytes the exchange needs sent now (a handshake step); empty when nothing is due."""
        ...

    @property
    def buffered(self) -> int:
        """Bytes held while a frame is incomplete; bounded, so line noise cannot grow memory."""
        ...

    def feed(self, data: bytes) -> list[WeightReading]:
        """Parse bytes as they arrive, split anywhere; invalid bytes are dropped, never returned."""
        ...


PROTOCOLS: dict[str, type[ScaleProtocol]] = {
    Toledo8217.name: Toledo8217,
    CasPd2.name: CasPd2,
}


def protocol_for(name: str) -> ScaleProtocol:
    """A fresh parser for the protocol called ``name``."""
    try:
        factory = PROTOCOLS[name]
    except KeyError:
        known = ", ".join(sorted(PROTOCOLS))
        raise ScaleProtocolError(f"unknown scale protocol {name!r}; known: {known}", protocol=name) from None
    return factory()
