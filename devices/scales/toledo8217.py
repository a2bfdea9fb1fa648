"""METTLER TOLEDO 8217 ("weight only") serial protocol: a strict, incremental parser.

Byte layout implemented (host polls, the scale answers one frame per command)::

    host  'W'                        ask for the weight
    scale STX w w . w w w [N] CR     weight field of exactly 6 characters, kilograms, the decimal point where
                                     the frame puts it ("01.250" = 1250 g); 'N' after the field = net weight
    scale STX '?' status CR          sent instead of the weight while in motion, under zero or over capacity
    host  'Z'                        zero the scale          -> STX '?' status CR
    host  'T' CR                     tare the item on it     -> STX '?' status CR
    host  'C'                        clear the tare          -> STX '?' status CR

Status byte bits (bit 0 least significant), from the METTLER TOLEDO DIVA Service Manual, section 6.1.4
"8217 protocol" (command table 6.1.4.2 and "Scale Status Byte Bit Definitions" 6.1.4.3), and the same bits
in Odoo's hw_scale ``_toledo8217StatusParse``: 0 in motion, 1 over capacity, 2 under zero, 3 outside zero
capture range, 4 at centre of zero, 5 net weight, 6 always 1, 7 even parity (the serial port checks it;
it is masked here). Serial settings: 9600 baud, 7 data bits, even parity, 1 stop bit (Odoo's Toledo8217
protocol and the manual's defaults).

The frame has no checksum, so strictness is in the shape: the field must be exactly 6 characters of digits
with at most one decimal point, the status byte must have bit 6 set, and any byte outside a frame is
dropped and counted in :attr:`Toledo8217.rejected`. The manual also gives a pounds layout ("0WW.WW") that a
frame cannot tell apart from kilograms with two decimals: the scale must be set to kilograms.

A status frame carries no weight, so it becomes a reading with ``grams=0`` that is never stable.
"""

from __future__ import annotations

from devices.scales.reading import WeightReading, kg_text_to_grams

__all__ = ["MAX_BUFFER", "Toledo8217"]

STX = 0x02
CR = 0x0D

MAX_BUFFER = 256
# STX + 6-character field + 'N' + CR: no valid frame is longer, so a longer run without CR is noise.
_MAX_FRAME = 9
_FIELD_LEN = 6

_MOTION = 1 << 0
_OVER_CAPACITY = 1 << 1
_UNDER_ZERO = 1 << 2
_NET = 1 << 5
_ALWAYS_ONE = 1 << 6


class Toledo8217:
    """Parser and command bytes for a METTLER TOLEDO scale in 8217 mode."""

    name = "toledo8217"

    def __init__(self) -> None:
        self._buf = bytearray()
        self.rejected = 0
        self.last_error: str | None = None

    def poll_request(self) -> bytes:
        return b"W"

    def tare_request(self) -> bytes | None:
        # The manual lists the tare command as 'T' followed by CR (a digital tare is 'T' + 5 digits + CR).
        return b"T\r"

    def zero_request(self) -> bytes | None:
        return b"Z"

    def clear_tare_request(self) -> bytes:
        return b"C"

    def take_output(self) -> bytes:
        # 8217 has no handshake: every answer comes from a command the host already sent.
        return b""

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a frame (never more than :data:`MAX_BUFFER`)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[WeightReading]:
        """Take bytes as they arrive (any split) and return the readings of the frames they complete."""
        readings: list[WeightReading] = []
        # Chunked so that even one huge read of line noise never makes the buffer grow past its bound.
        for start in range(0, len(data), MAX_BUFFER):
            self._buf += data[start : start + MAX_BUFFER]
            self._parse(readings)
        return readings

    def _reject(self, reason: str) -> None:
        self.rejected += 1
        self.last_error = reason

    def _parse(self, readings: list[WeightReading]) -> None:
        buf = self._buf
        while buf:
            stx = buf.find(STX)
            if stx < 0:
                self._reject(f"{len(buf)} byte(s) outside a Toledo 8217 frame: {bytes(buf[:16])!r}")
                buf.clear()
                return
            if stx > 0:
                self._reject(f"{stx} byte(s) outside a Toledo 8217 frame: {bytes(buf[: min(stx, 16)])!r}")
                del buf[:stx]
            end = buf.find(CR, 1, _MAX_FRAME)
            restart = buf.find(STX, 1, end if end >= 0 else _MAX_FRAME)
            if restart >= 0:
                # A new frame began before this one ended: the first was cut short on the line.
                self._reject(f"Toledo 8217 frame cut short: {bytes(buf[:restart])!r}")
                del buf[:restart]
                continue
            if end < 0:
                if len(buf) >= _MAX_FRAME:
                    self._reject(f"no CR within {_MAX_FRAME} bytes of STX: {bytes(buf[:_MAX_FRAME])!r}")
                    # Drop up to the next frame start at once, so one noise burst counts as one rejection.
                    following = buf.find(STX, 1)
                    del buf[: following if following > 0 else len(buf)]
                    continue
                return  # wait for the rest of the frame
            body = bytes(buf[1:end])
            del buf[: end + 1]
            reading = self._decode(body)
            if reading is not None:
                readings.append(reading)
        # Unreachable in practice (a pending frame is at most _MAX_FRAME bytes), kept as the hard bound.
        if len(buf) > MAX_BUFFER:
            del buf[:-MAX_BUFFER]

    def _decode(self, body: bytes) -> WeightReading | None:
        if body[:1] == b"?":
            if len(body) != 2:
                self._reject(f"Toledo 8217 status frame of {len(body)} bytes, expected 2: {body!r}")
                return None
            status = body[1] & 0x7F  # bit 7 is the parity bit
            if not status & _ALWAYS_ONE:
                self._reject(f"Toledo 8217 status byte {body[1]:#04x} lacks bit 6, which is always 1")
                return None
            return WeightReading(
                grams=0,
                stable=False,
                overload=bool(status & _OVER_CAPACITY),
                under_zero=bool(status & _UNDER_ZERO),
                net=bool(status & _NET),
            )
        net = body.endswith(b"N")
        field = body[:-1] if net else body
        if len(field) != _FIELD_LEN:
            self._reject(f"Toledo 8217 weight field of {len(field)} bytes, expected {_FIELD_LEN}: {body!r}")
            return None
        try:
            grams = kg_text_to_grams(field)
        except ValueError as exc:
            self._reject(f"Toledo 8217 {exc}")
            return None
        # The scale only sends a weight when it is stable, inside its range and not negative.
        return WeightReading(grams=grams, stable=True, net=net)
