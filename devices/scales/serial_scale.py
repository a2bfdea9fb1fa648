"""A scale on a serial port: polls it, parses its frames, filters stability, survives it going quiet.

One background task owns the port: it writes the protocol's poll request every ``poll_interval_s`` (0.08 s,
12.5 polls a second), feeds every byte read to the protocol's parser, sends the handshake bytes the parser
asks for (CAS's DC1 after the scale's ACK) and hands each reading, after :class:`StableWeight`, to every
:meth:`SerialScale.readings` iterator. When no valid frame arrives for ``unavailable_after_s`` an iterator
raises :class:`ScaleUnavailableError`, but the task keeps polling (and reopens the port if it failed), so a
caller that asks again gets readings as soon as the scale answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import termios
import time
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Self

import msgspec
import serial_asyncio

from devices.errors import ScaleProtocolError, ScaleUnavailableError
from devices.scales.protocol import ScaleProtocol, protocol_for
from devices.scales.reading import WeightReading
from devices.scales.stability import StableWeight

__all__ = ["SERIAL_DEFAULTS", "SerialScale", "SerialSettings", "settings_for"]


class SerialSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Line settings as pyserial takes them (parity 'N', 'E' or 'O')."""

    baudrate: int
    bytesize: int
    parity: str
    stopbits: int


# Toledo 8217 is 7E1 (the scale's default, as Odoo's Toledo8217 driver also uses). The CAS PD-II manual pages
# found do not state the line settings of its TYPE-6 interface: 8N1 is an assumption (CAS's indicator manuals
# give 8N1 for their own CAS formats) to check against the scale's setup menu.
SERIAL_DEFAULTS: dict[str, SerialSettings] = {
    "toledo8217": SerialSettings(baudrate=9600, bytesize=7, parity="E", stopbits=1),
    "cas_pd2": SerialSettings(baudrate=9600, bytesize=8, parity="N", stopbits=1),
}


def settings_for(
    protocol: str,
    *,
    baudrate: int | None = None,
    bytesize: int | None = None,
    parity: str | None = None,
    stopbits: int | None = None,
) -> SerialSettings:
    """The protocol's default line settings, with whichever ones are given replaced."""
    try:
        default = SERIAL_DEFAULTS[protocol]
    except KeyError:
        raise ScaleProtocolError(f"unknown scale protocol {protocol!r}", protocol=protocol) from None
    return SerialSettings(
        baudrate=baudrate or default.baudrate,
        bytesize=bytesize or default.bytesize,
        parity=parity or default.parity,
        stopbits=stopbits or default.stopbits,
    )


_READ_SIZE = 256
_SUBSCRIBER_BACKLOG = 64


class SerialScale:
    """A polled serial scale. Create it with :meth:`open`; iterate :meth:`readings`; :meth:`close` it."""

    def __init__(
        self,
        port: str,
        protocol: ScaleProtocol,
        settings: SerialSettings,
        *,
        poll_interval_s: float = 0.08,
        unavailable_after_s: float = 1.0,
        retry_interval_s: float = 1.0,
        stability: StableWeight | None = None,
    ) -> None:
        self.port = port
        self.protocol = protocol
        self.settings = settings
        self.poll_interval_s = poll_interval_s
        self.unavailable_after_s = unavailable_after_s
        self.retry_interval_s = retry_interval_s
        self.stability = stability or StableWeight()
        self.last_reading: WeightReading | None = None
        self.port_error: str | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._subscribers: set[asyncio.Queue[WeightReading | None]] = set()
        self._last_frame_at: float | None = None
        self._closed = False

    @classmethod
    async def open(
        cls,
        port: str,
        protocol: str,
        *,
        baudrate: int | None = None,
        bytesize: int | None = None,
        parity: str | None = None,
        stopbits: int | None = None,
        poll_interval_s: float = 0.08,
        unavailable_after_s: float = 1.0,
        retry_interval_s: float = 1.0,
        stable_window_ms: int = 500,
        stable_tolerance_g: int = 2,
    ) -> Self:
        """Open ``port`` for a scale speaking ``protocol``; line settings default to the protocol's.

        Raises :class:`ScaleProtocolError` for an unknown protocol and :class:`ScaleUnavailableError` when
        the port cannot be opened.
        """
        parser = protocol_for(protocol)
        settings = settings_for(
            parser.name, baudrate=baudrate, bytesize=bytesize, parity=parity, stopbits=stopbits
        )
        scale = cls(
            port,
            parser,
            settings,
            poll_interval_s=poll_interval_s,
            unavailable_after_s=unavailable_after_s,
            retry_interval_s=retry_interval_s,
            stability=StableWeight(stable_window_ms, stable_tolerance_g),
        )
        await scale._connect()
        scale._task = asyncio.create_task(scale._run(), name=f"scale {port}")
        return scale

    @property
    def rejected(self) -> int:
        """Frames and noise the parser dropped since the port was opened."""
        return self.protocol.rejected

    @property
    def last_error(self) -> str | None:
        """Why the parser last dropped bytes, or why the port last failed."""
        return self.port_error or self.protocol.last_error

    @property
    def available(self) -> bool:
        """True while valid frames keep arriving (one within ``unavailable_after_s``)."""
        last = self._last_frame_at
        return last is not None and time.monotonic() - last <= self.unavailable_after_s

    async def readings(self) -> AsyncIterator[WeightReading]:
        """Every reading from now on, stability-filtered. Ends when the scale is closed.

        Raises :class:`ScaleUnavailableError` after ``unavailable_after_s`` without a valid frame; polling
        goes on, so iterating again resumes once the scale answers.
        """
        queue: asyncio.Queue[WeightReading | None] = asyncio.Queue(_SUBSCRIBER_BACKLOG)
        self._subscribers.add(queue)
        try:
            while not self._closed:
                try:
                    reading = await asyncio.wait_for(queue.get(), self.unavailable_after_s)
                except TimeoutError:
                    raise self._unavailable() from None
                if reading is None:
                    return
                yield reading
        finally:
            self._subscribers.discard(queue)

    async def tare(self) -> None:
        """Send the protocol's tare command. Raises :class:`ScaleProtocolError` if it has none."""
        await self._command("tare", self.protocol.tare_request())

    async def zero(self) -> None:
        """Send the protocol's zero command. Raises :class:`ScaleProtocolError` if it has none."""
        await self._command("zero", self.protocol.zero_request())

    async def close(self) -> None:
        """Stop polling, close the port and end every :meth:`readings` iterator."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._drop_port()
        for queue in self._subscribers:
            _offer(queue, None)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- internals -----------------------------------------------------------------------------------------

    def _unavailable(self) -> ScaleUnavailableError:
        detail = f"; last error: {self.last_error}" if self.last_error else ""
        return ScaleUnavailableError(
            f"the {self.protocol.name} scale on {self.port} sent no valid frame for "
            f"{self.unavailable_after_s:g} s{detail}",
            port=self.port,
            protocol=self.protocol.name,
        )

    async def _command(self, what: str, request: bytes | None) -> None:
        if request is None:
            raise ScaleProtocolError(
                f"the {self.protocol.name} protocol has no {what} command; use the scale's key",
                protocol=self.protocol.name,
            )
        writer = self._writer
        if writer is None or self._closed:
            raise ScaleUnavailableError(f"the scale port {self.port} is not open", port=self.port)
        # A tare or zero changes the weight on purpose: the old window says nothing about the new one.
        self.stability.reset()
        writer.write(request)
        await writer.drain()

    async def _connect(self) -> None:
        s = self.settings
        try:
            reader, writer = await serial_asyncio.open_serial_connection(
                url=self.port, baudrate=s.baudrate, bytesize=s.bytesize, parity=s.parity, stopbits=s.stopbits
            )
        # pyserial's SerialException is an OSError; a line setting the port refuses (7E1 on a pseudo-terminal)
        # is a termios.error, which is not.
        except (OSError, ValueError, termios.error) as exc:
            self.port_error = f"cannot open {self.port}: {exc}"
            raise ScaleUnavailableError(
                f"cannot open the scale port {self.port}: {exc}", port=self.port
            ) from exc
        self._reader, self._writer = reader, writer
        self.port_error = None

    async def _drop_port(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _run(self) -> None:
        while True:
            reader, writer = self._reader, self._writer
            if reader is None or writer is None:
                with contextlib.suppress(ScaleUnavailableError):  # port_error keeps the reason
                    await self._connect()
                if self._writer is None:
                    await asyncio.sleep(self.retry_interval_s)
                continue
            poller = asyncio.create_task(self._poll(writer))
            try:
                await self._read(reader, writer)
                self.port_error = f"{self.port} closed (end of file)"
            except OSError as exc:
                self.port_error = f"{self.port} failed: {exc}"
            finally:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError, OSError):
                    await poller
                await self._drop_port()
            await asyncio.sleep(self.retry_interval_s)

    async def _poll(self, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        request = self.protocol.poll_request()
        while True:
            writer.write(request)
            await writer.drain()
            # Scheduled on a fixed grid so the rate does not sag by the time each write takes.
            due += self.poll_interval_s
            delay = due - loop.time()
            if delay < 0:  # fell behind (a stalled loop): start a new grid rather than burst to catch up
                due, delay = loop.time(), 0.0
            await asyncio.sleep(delay)

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await reader.read(_READ_SIZE)
            if not data:
                return
            readings = self.protocol.feed(data)
            handshake = self.protocol.take_output()
            if handshake:
                writer.write(handshake)
            for reading in readings:
                self._publish(reading)

    def _publish(self, reading: WeightReading) -> None:
        now = time.monotonic()
        if self._last_frame_at is not None and now - self._last_frame_at > self.unavailable_after_s:
            # After a silence the scale may have been moved or reloaded: earn stability afresh.
            self.stability.reset()
        self._last_frame_at = now
        filtered = self.stability.feed(reading, int(now * 1000))
        self.last_reading = filtered
        for queue in self._subscribers:
            _offer(queue, filtered)


def _offer(queue: asyncio.Queue[WeightReading | None], item: WeightReading | None) -> None:
    """Queue ``item``, dropping the oldest entry when a slow consumer has let the backlog fill."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)
