"""CAS PD-II serial protocol, "TYPE-6" interface (Samsung ECR ER-670): a strict, incremental parser.

Byte layout implemented::

    host  ENQ (0x05)                 open the exchange
    scale ACK (0x06)
    host  DC1 (0x11)                 ask for the weight
    scale SOH STX STA SIGN W5 W4 W3 W2 W1 W0 UN1 UN0 BCC ETX EOT          (15 bytes)

    STA      'S' stable, 'U' not stable
    SIGN     ' ' zero or positive, '-' negative, 'F' overload (and then W5..W0 are all 'F')
    W5..W0   kilograms with the decimal point where the frame puts it, leading spaces (" 1.250")
    UN1 UN0  unit, "KG" (any case); "LB" is refused
    BCC      exclusive OR of STA through UN0

Sources: the CAS PD-II manual, section 3.1.6 "TYPE-6 INTERFACE" (handshake, field order, STA/SIGN meanings,
all-'F' overload); the CAS SW-II manual's RS-232C table (same frame; BCC is an exclusive OR); the r_keeper
driver notes for CAS (BCC = XOR of the bytes from STA to the unit) and a scale manual cloning the protocol
("BCC = D1^D2^...^DN" from STA to the byte before BCC). The r_keeper notes also list a variant with a
7-character weight field (16-byte frame); it is accepted too, told apart by where ETX and EOT fall.

The protocol has no zero or tare command; :meth:`CasPd2.tare_request` and :meth:`CasPd2.zero_request`
return None. The ACK of the handshake is consumed by the parser, which then asks, through
:meth:`CasPd2.take_output`, for the DC1 to be sent. Serial settings are not given in the manual pages
found; 9600 baud 8N1 is used as the default (see ``devices.scales.serial_scale``).
"""

from __future__ import annotations

from devices.scales.reading import WeightReading, kg_text_to_grams

__all__ = ["MAX_BUFFER", "CasPd2"]

SOH = 0x01
STX = 0x02
ETX = 0x03
EOT = 0x04
ENQ = 0x05
ACK = 0x06
DC1 = 0x11

MAX_BUFFER = 256
_SHORT = 15  # 6-character weight field
_LONG = 16  # 7-character weight field
# What each of bytes 1..9 may hold in either variant (byte 10 is a weight digit or a unit letter).
_WEIGHT_CHARS = frozenset(b"0123456789. F")
_PREFIX_ALLOWED: dict[int, frozenset[int]] = {
    1: frozenset({STX}),
    2: frozenset(b"SU"),
    3: frozenset(b" -F"),
    **{index: _WEIGHT_CHARS for index in range(4, 10)},
}
_PREFIX_END = 10


class CasPd2:
    """Parser and command bytes for a CAS PD-II set to the TYPE-6 (ENQ/ACK/DC1) interface."""

    name = "cas_pd2"

    def __init__(self) -> None:
        self._buf = bytearray()
        self._dc1_due = False
        self._resyncing = False
        self.rejected = 0
        self.last_error: str | None = None

    def poll_request(self) -> bytes:
        return bytes([ENQ])

    def tare_request(self) -> bytes | None:
        return None

    def zero_request(self) -> bytes | None:
        return None

    def take_output(self) -> bytes:
        """Bytes the exchange needs sent now: DC1 once the scale has acknowledged an ENQ."""
        if self._dc1_due:
            self._dc1_due = False
            return bytes([DC1])
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

    def _skip_to_frame(self) -> bool:
        """Drop what precedes the next SOH, taking ACKs there as the handshake. True if a SOH leads."""
        buf = self._buf
        soh = buf.find(SOH)
        head = buf[: soh if soh >= 0 else len(buf)]
        if ACK in head:
            # An ACK is only looked for between frames: inside one, every byte is frame data.
            self._dc1_due = True
        garbage = bytes(b for b in head if b != ACK)
        if garbage and not self._resyncing:
            self._reject(f"{len(garbage)} byte(s) outside a CAS frame: {garbage[:16]!r}")
        # The rest of a rejected frame is part of that one rejection, not a second one.
        self._resyncing = False
        del buf[: len(head)]
        return soh >= 0

    def _bad_prefix_at(self) -> int | None:
        """Index of the first byte of a pending frame that cannot be in a valid frame, if any."""
        buf = self._buf
        for index in range(1, min(len(buf), _PREFIX_END)):
            if buf[index] not in _PREFIX_ALLOWED[index]:
                return index
        return None

    def _parse(self, readings: list[WeightReading]) -> None:
        buf = self._buf
        while self._skip_to_frame():
            bad = self._bad_prefix_at()
            if bad is not None:
                # Checked byte by byte as they arrive, so a stray SOH is dropped at once rather than
                # holding back a real ACK or frame until 15 bytes have piled up behind it.
                self._reject(f"CAS frame byte {bad} is {buf[bad]:#04x}, not valid there: {bytes(buf[:16])!r}")
                del buf[:1]
                self._resyncing = True
                continue
            if len(buf) < _SHORT:
                return  # wait for the rest of the frame
            if buf[_SHORT - 2] == ETX and buf[_SHORT - 1] == EOT:
                size = _SHORT
            elif len(buf) < _LONG:
                return  # may be the 7-character variant: one more byte decides
            elif buf[_LONG - 2] == ETX and buf[_LONG - 1] == EOT:
                size = _LONG
            else:
                self._reject(f"CAS frame without ETX EOT at byte 14 or 15: {bytes(buf[:_LONG])!r}")
                del buf[:1]  # resynchronise on the next SOH, which may sit inside this run
                self._resyncing = True
                continue
            frame = bytes(buf[:size])
            del buf[:size]
            reading = self._decode(frame)
            if reading is not None:
                readings.append(reading)
        if len(buf) > MAX_BUFFER:  # unreachable (a pending frame is at most 16 bytes), kept as the hard bound
            del buf[:-MAX_BUFFER]

    def _decode(self, frame: bytes) -> WeightReading | None:
        bcc_at = len(frame) - 3
        body = frame[2:bcc_at]  # STA .. UN0
        bcc = 0
        for byte in body:
            bcc ^= byte
        if bcc != frame[bcc_at]:
            self._reject(f"CAS frame BCC {frame[bcc_at]:#04x}, computed {bcc:#04x}: {frame!r}")
            return None
        sta, sign, field, unit = body[0:1], body[1:2], body[2:-2], body[-2:]
        if sta not in (b"S", b"U"):
            self._reject(f"CAS status {sta!r} is neither 'S' nor 'U'")
            return None
        if unit.upper() != b"KG":
            self._reject(f"CAS unit {unit!r} is not supported; set the scale to kilograms")
            return None
        if sign == b"F":
            if field.strip(b"F"):
                self._reject(f"CAS overload frame whose weight field is not all 'F': {field!r}")
                return None
            return WeightReading(grams=0, stable=False, overload=True)
        if sign not in (b" ", b"-"):
            self._reject(f"CAS sign {sign!r} is not ' ', '-' or 'F'")
            return None
        try:
            grams = kg_text_to_grams(field)
        except ValueError as exc:
            self._reject(f"CAS {exc}")
            return None
        if sign == b"-" and grams:
            return WeightReading(grams=-grams, stable=False, under_zero=True)
        return WeightReading(grams=grams, stable=sta == b"S")
