"""A virtual scale on a real pseudo-terminal, speaking the same bytes as the real ones.

:class:`VirtualScale` opens a pty pair, puts the slave in raw mode and serves the protocol from the master
side in the event loop. Anything that opens :attr:`VirtualScale.path` as a serial port (``SerialScale``,
``picocom``, the device agent) talks to it as it would to a scale: Toledo 8217 answers 'W', 'Z', 'T' CR,
'T' + 5 digits + CR and 'C'; CAS PD-II answers ENQ with ACK and then DC1 with its 15-byte frame. The byte
layouts are documented in ``devices.scales.toledo8217`` and ``devices.scales.cas_pd2``.

Everything a test needs to provoke is an attribute that can be changed while it runs: the load on the
platter (``grams``), ``motion``, ``noise_g``, ``overload``, ``under_zero``, ``split_frames`` (answers go out
in pieces of 1 to 3 bytes with short pauses) and ``responding`` (False = the scale stays silent), plus
:meth:`VirtualScale.inject` to put arbitrary bytes on the line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import tty
from types import TracebackType
from typing import Self

from devices.errors import ScaleProtocolError

__all__ = ["VirtualScale", "run_virtual_scale"]

SOH, STX, ETX, EOT, ENQ, ACK, CR, DC1 = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0D, 0x11
_PROTOCOLS = ("toledo8217", "cas_pd2")
_SPLIT_PAUSE_S = 0.002
# A zero command is refused beyond this share of the capacity, as real scales limit their capture range.
_ZERO_RANGE_PERCENT = 2


class VirtualScale:
    """A scale simulator serving ``protocol`` on a pseudo-terminal; open :attr:`path` as its port."""

    def __init__(
        self,
        protocol: str = "toledo8217",
        grams: int = 0,
        *,
        capacity_g: int = 30_000,
        noise_g: int = 0,
        motion: bool = False,
        seed: int | None = None,
    ) -> None:
        if protocol not in _PROTOCOLS:
            raise ScaleProtocolError(f"the virtual scale speaks {', '.join(_PROTOCOLS)}, not {protocol!r}")
        self.protocol = protocol
        self.grams = grams
        self.capacity_g = capacity_g
        self.noise_g = noise_g
        self.motion = motion
        self.overload = False
        self.under_zero = False
        self.split_frames = False
        self.responding = True
        self.tare_g: int | None = None
        self.zero_offset_g = 0
        self.requests = 0
        self.writes = 0  # write() calls on the master: more than answers when split_frames is on
        self.path = ""
        self._rng = random.Random(seed)
        self._master = -1
        self._slave = -1
        self._inbox = bytearray()
        self._enquired = False
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None

    async def start(self) -> Self:
        """Open the pty and start answering. Returns self, so ``scale = await VirtualScale(...).start()``."""
        loop = asyncio.get_running_loop()
        self._master, self._slave = os.openpty()
        # Raw: no echo of requests back to the host, no CR/LF translation of frames, no line buffering.
        tty.setraw(self._slave)
        # The slave stays open here too, so the master never sees a hang-up when a client closes the port.
        self.path = os.ttyname(self._slave)
        os.set_blocking(self._master, False)
        loop.add_reader(self._master, self._on_readable)
        self._sender = asyncio.create_task(self._send_loop(), name=f"virtual scale {self.path}")
        return self

    async def close(self) -> None:
        """Stop answering and close both ends of the pty."""
        if self._master < 0:
            return
        asyncio.get_running_loop().remove_reader(self._master)
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._master = self._slave = -1

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def inject(self, raw: bytes) -> None:
        """Put ``raw`` on the line as it is, in order with the answers (line noise, broken frames)."""
        self._outbox.put_nowait(raw)

    # -- what the scale shows ------------------------------------------------------------------------------

    def _gross(self) -> int:
        jitter = self._rng.randint(-self.noise_g, self.noise_g) if self.noise_g > 0 else 0
        return self.grams - self.zero_offset_g + jitter

    def _toledo_answer(self, *, weight: bool) -> bytes:
        """The weight frame (``weight``) or, if the weight cannot be sent or was not asked, the status."""
        gross = self._gross()
        shown = gross - self.tare_g if self.tare_g is not None else gross
        over = self.overload or gross > self.capacity_g or shown > 99_999
        under = self.under_zero or shown < 0
        if weight and not (self.motion or over or under):
            field = f"{shown // 1000:02d}.{shown % 1000:03d}".encode()
            return bytes([STX]) + field + (b"N" if self.tare_g is not None else b"") + bytes([CR])
        status = 0x40  # bit 6 is always 1
        status |= 0x01 if self.motion else 0
        status |= 0x02 if over else 0
        status |= 0x04 if under else 0
        status |= 0x10 if gross == 0 else 0
        status |= 0x20 if self.tare_g is not None else 0
        return bytes([STX, ord("?"), status, CR])

    def _cas_answer(self) -> bytes:
        gross = self._gross()
        sta = b"U" if self.motion else b"S"
        field = f"{abs(gross) // 1000}.{abs(gross) % 1000:03d}".rjust(6).encode()
        if self.overload or gross > self.capacity_g or len(field) > 6:
            sign, field = b"F", b"FFFFFF"
        elif self.under_zero or gross < 0:
            sign = b"-"
            if gross >= 0:  # forced under zero with nothing negative on it: show the smallest step below
                field = b" 0.001"
        else:
            sign = b" "
        body = sta + sign + field + b"KG"
        bcc = 0
        for byte in body:
            bcc ^= byte
        return bytes([SOH, STX]) + body + bytes([bcc, ETX, EOT])

    # -- commands ------------------------------------------------------------------------------------------

    def _tare(self, preset_g: int | None = None) -> None:
        gross = self.grams - self.zero_offset_g
        if preset_g is not None:
            self.tare_g = preset_g
        elif not self.motion and 0 < gross <= self.capacity_g:
            self.tare_g = gross  # the manual: tare is taken if the weight is stable and not zero

    def _zero(self) -> None:
        gross = self.grams - self.zero_offset_g
        in_range = abs(gross) * 100 <= self.capacity_g * _ZERO_RANGE_PERCENT
        if not self.motion and self.tare_g is None and in_range:
            self.zero_offset_g = self.grams

    def _serve_toledo(self) -> None:
        inbox = self._inbox
        while inbox:
            command = inbox[0]
            if command == ord("T"):
                if len(inbox) < 2:
                    return  # 'T' CR and 'T' + digits + CR share a first byte: wait for the next one
                if inbox[1] == CR:
                    del inbox[:2]
                    self._tare()
                elif chr(inbox[1]).isdigit():
                    end = inbox.find(CR, 1, 8)
                    if end < 0:
                        if len(inbox) < 7:
                            return
                        del inbox[:1]  # not a digital tare after all: drop the 'T'
                        continue
                    digits = bytes(inbox[1:end])
                    del inbox[: end + 1]
                    if len(digits) == 5 and digits.isdigit():
                        self._tare(int(digits))  # five digits read as WW.WWW kg, i.e. grams
                else:
                    del inbox[:1]  # a bare 'T' (some hosts send no CR): take it as a tare
                    self._tare()
                self._answer(self._toledo_answer(weight=False))
                continue
            del inbox[:1]
            if command == ord("W"):
                self._answer(self._toledo_answer(weight=True))
            elif command == ord("Z"):
                self._zero()
                self._answer(self._toledo_answer(weight=False))
            elif command == ord("C"):
                if not self.motion:  # the manual: clear tare is ignored while the weight moves
                    self.tare_g = None
                self._answer(self._toledo_answer(weight=False))
            # Anything else is not a command of this protocol: a real scale ignores it too.

    def _serve_cas(self) -> None:
        for command in bytes(self._inbox):
            if command == ENQ:
                self._enquired = True
                self._answer(bytes([ACK]))
            elif command == DC1 and self._enquired:
                # The weight is only sent inside an exchange the host opened with ENQ.
                self._enquired = False
                self._answer(self._cas_answer())
        self._inbox.clear()

    def _answer(self, frame: bytes) -> None:
        self.requests += 1
        if self.responding:
            self._outbox.put_nowait(frame)

    # -- the pty -------------------------------------------------------------------------------------------

    def _on_readable(self) -> None:
        try:
            data = os.read(self._master, 1024)
        except BlockingIOError:
            return
        except OSError:
            return  # the pty is going away (close() is on its way)
        self._inbox += data
        if self.protocol == "toledo8217":
            self._serve_toledo()
        else:
            self._serve_cas()

    async def _send_loop(self) -> None:
        while True:
            data = await self._outbox.get()
            if not self.split_frames:
                self._write(data)
                continue
            index = 0
            while index < len(data):
                size = self._rng.randint(1, 3)
                self._write(data[index : index + size])
                index += size
                await asyncio.sleep(_SPLIT_PAUSE_S)

    def _write(self, data: bytes) -> None:
        self.writes += 1
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._master, view)
            except (BlockingIOError, OSError):
                return  # nobody reads the port and its buffer is full: a real line would lose it as well
            view = view[written:]


async def run_virtual_scale(
    protocol: str,
    grams: int,
    *,
    noise_g: int = 0,
    motion: bool = False,
    capacity_g: int = 30_000,
) -> None:
    """Serve a virtual scale until cancelled, printing the pty path to open as its serial port."""
    async with VirtualScale(protocol, grams, noise_g=noise_g, motion=motion, capacity_g=capacity_g) as scale:
        # A pty has no UART: the bytes are the same at any line setting, and some kernels refuse 7E1 on a
        # pty, so the port is best opened at 8N1 even for Toledo (its bytes are 7-bit anyway).
        print(f"virtual {protocol} scale with {grams} g on {scale.path} (open it at 9600 8N1)", flush=True)
        await asyncio.Event().wait()
