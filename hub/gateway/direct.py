"""Frames written straight to a socket's transport, when the server lets us: the fan-out's fast path.

A sale reaches hundreds of dashboards and an order every screen of its station. Through ASGI, each frame to
each socket is a writer task woken, Litestar's and uvicorn's send layers, and the ``websockets`` library
building the frame: about 30 µs a frame here, so an event to 500 screens held the event loop ~15 ms, and
everything else (the next order's database round trips, a scan's reply) waited behind it.

A server's WebSocket text frame is the same bytes for every socket (RFC 6455: no mask from server to
client, and these sockets negotiate no extension: ``hub.cli`` turns per-message deflate off). So an event's
frame is built once (``frame_of``) and written to each transport with one ``write``, from the bus listener
itself, without a task switch. ``Connection.send`` does this only when nothing is queued for the socket (so
frames never overtake each other) and falls back to its queue and writer task whenever the direct path is
not there: another ASGI server or WebSocket implementation (the in-process test client), the socket closing,
an extension negotiated.

``DirectWriter.of`` recognises uvicorn's ``websockets-sansio`` protocol, whose ASGI ``send`` is the
protocol's bound method; what it reads of it (``transport``, ``conn.state``, ``close_sent``) is checked on
every write. ``tests/hub/gateway/test_direct.py`` runs a real uvicorn server and fails if the direct path
stops being taken, so a uvicorn upgrade that changes these internals is noticed, not silently slower.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

_TEXT = 0x81  # FIN + text opcode

_FRAMES: OrderedDict[int, tuple[str, bytes]] = OrderedDict()
_FRAMES_SIZE = 64


def text_frame(text: str) -> bytes:
    """The unmasked, unfragmented WebSocket text frame carrying ``text`` (RFC 6455, 5.2)."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = bytes((_TEXT, size))
    elif size < 1 << 16:
        header = struct.pack("!BBH", _TEXT, 126, size)
    else:
        header = struct.pack("!BBQ", _TEXT, 127, size)
    return header + payload


def frame_of(text: str) -> bytes:
    """``text_frame``, built once for the same text object however many sockets it goes to (an event's text
    is one object for every socket following its stream: ``hub.gateway.connection``)."""
    key = id(text)
    hit = _FRAMES.get(key)
    if hit is not None and hit[0] is text:
        return hit[1]
    frame = text_frame(text)
    _FRAMES[key] = (text, frame)
    if len(_FRAMES) > _FRAMES_SIZE:
        _FRAMES.popitem(last=False)
    return frame


class DirectWriter:
    """Writes frames to one uvicorn WebSocket's transport; ``write`` says False when it cannot."""

    __slots__ = ("_protocol", "buffer_limit", "written")

    def __init__(self, protocol: Any, buffer_limit: int) -> None:
        self._protocol = protocol
        self.buffer_limit = buffer_limit
        self.written = 0

    @classmethod
    def of(cls, send: Any, buffer_limit: int) -> DirectWriter | None:
        """The direct path for the socket whose ASGI ``send`` this is, if its server is one we know."""
        protocol = getattr(send, "__self__", None)
        if not isinstance(protocol, WebSocketsSansIOProtocol):
            return None
        if protocol.conn.extensions:  # a negotiated extension (compression) changes the frame bytes
            return None
        return cls(protocol, buffer_limit)

    def write(self, text: str) -> bool:
        protocol = self._protocol
        transport = protocol.transport
        if (
            protocol.close_sent
            or protocol.conn.state is not State.OPEN
            or transport is None
            or transport.is_closing()
        ):
            return False
        transport.write(frame_of(text))
        self.written += 1
        return True

    def backed_up(self) -> bool:
        """More unsent bytes than the client may leave behind: it is too slow (``Connection.send``)."""
        return bool(self._protocol.transport.get_write_buffer_size() > self.buffer_limit)
