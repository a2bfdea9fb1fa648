"""A virtual network receipt printer: ESC/POS over TCP (port 9100 style), status answers, kept and drawn jobs.

What it does as a real Epson-compatible printer does:

* Real-time status queries are answered at once, with the reference's byte layouts: DLE EOT 1 (printer:
  bit 3 offline), 2 (offline cause: bit 2 cover open, bit 5 paper-end stop), 3 (errors: none), 4 (roll
  sensor: bits 2-3 near end, bits 5-6 paper end), fixed bits 1 and 4 set; GS r 1 / ESC v (paper sensor: bits
  0-1 near end, 2-3 end) and GS r 2 (drawer pin 3 low). python-escpos's ``is_online()`` and
  ``paper_status()`` read these as they read a real printer.
* Paper out or cover open puts it offline: status is still answered, but data is not printed. Those bytes
  are counted (``discarded_bytes``; ``discarded_jobs`` counts jobs that lost something printable) and
  dropped, where a real printer would keep them in its buffer until the fault clears: an agent that prints
  without checking status first finds out. What arrives once the fault is cleared prints again.
* ``offline`` is an unplugged cable: the listening socket stays, connections are accepted but nothing is
  read, so status queries time out and senders block once the socket buffers fill; when it comes back what
  waited in the buffers is read, as after a cable is plugged back in.

And where it is kinder than a printer: commands are split by their lengths before anything is answered, so
bytes inside image or barcode data that look like ``DLE EOT n`` are not answered (a printer may answer them,
which is why Epson has GS ( D to turn real-time commands off), and GS r is answered even in a paper-out state
(a printer would leave it in its buffer). Each connection starts with the printer's power-on modes; within
a connection modes last across jobs (a job ends at a cut, or when the connection closes with something
printed). With ``jobs_dir``, job numbers go on from the files already there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from devices.escpos.commands import scan
from devices.escpos.decode import Decoder
from devices.escpos.model import Printout
from devices.escpos.render import render_png, render_text

log = logging.getLogger(__name__)

_STATUS_COMMANDS = frozenset({"DLE EOT", "GS r", "ESC v"})
_CUT_COMMANDS = frozenset({"GS V", "ESC i", "ESC m"})
_FIXED = 0x12  # bits 1 and 4 of every DLE EOT answer are fixed on


@dataclass(frozen=True, slots=True)
class PrintedJob:
    """One printed job: the bytes as received (status queries included), what they printed, drawn."""

    id: int
    data: bytes
    printout: Printout
    text: str
    png: bytes
    drawer_kicks: int
    received_at: datetime


@dataclass(frozen=True, slots=True)
class _Received:
    id: int
    data: bytes
    printout: Printout
    received_at: datetime


class VirtualPrinter:
    """An asyncio TCP server that behaves as a network receipt printer. Use ``async with`` or start/close."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        width_dots: int = 576,
        columns: int | None = None,
        jobs_dir: Path | None = None,
    ) -> None:
        self.host = host
        self.width_dots = width_dots
        self.columns = columns or width_dots // 12  # 48 on 80 mm paper, 32 on 58 mm
        self.jobs_dir = jobs_dir
        self.paper_out = False
        self.paper_near_end = False
        self.cover_open = False
        self.jobs: list[PrintedJob] = []
        self.discarded_bytes = 0
        self.discarded_jobs = 0
        self.status_answers = 0
        self.connections = 0
        self._port = port
        self._offline = False
        self._server: asyncio.Server | None = None
        self._open: set[_Connection] = set()
        self._next_id = 1
        self._queue: asyncio.Queue[_Received] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    # --- lifecycle --------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port it listens on (the one picked when created with port 0)."""
        return self._port

    async def start(self) -> None:
        if self.jobs_dir is not None:
            self.jobs_dir.mkdir(parents=True, exist_ok=True)
            # Numbering goes on from an earlier run's files instead of writing over them.
            numbers = [
                int(path.stem)
                for path in self.jobs_dir.glob("[0-9][0-9][0-9][0-9]*.bin")
                if path.stem.isdigit()
            ]
            self._next_id = max(numbers, default=0) + 1
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), self.host, self._port)
        self._port = self._server.sockets[0].getsockname()[1]
        self._worker = asyncio.create_task(self._render_jobs(), name=f"virtual-printer-{self._port}")

    async def close(self) -> None:
        """Stop listening, close the connections (keeping what they printed) and finish drawing the jobs."""
        if self._server is None:
            return
        self._server.close()
        open_ = list(self._open)
        for connection in open_:
            connection.close()
        await self._server.wait_closed()
        # Closed transports report connection_lost on the next loop turns; the wait only guards a bug.
        await asyncio.wait_for(asyncio.gather(*(connection.lost for connection in open_)), 10)
        await self._queue.join()
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- state ------------------------------------------------------------------------------------------

    @property
    def offline(self) -> bool:
        return self._offline

    @offline.setter
    def offline(self, value: bool) -> None:
        self._offline = value
        for connection in self._open:
            connection.set_reading(not value)

    @property
    def open_connections(self) -> int:
        return len(self._open)

    @property
    def faulted(self) -> bool:
        """Paper out or cover open: the printer answers status but prints nothing."""
        return self.paper_out or self.cover_open

    def status(self, name: str, n: int) -> int | None:
        """The answer byte to a status query (``name`` "DLE EOT", "GS r" or "ESC v"), None for no answer."""
        out, near = self.paper_out, self.paper_near_end or self.paper_out
        if name == "DLE EOT":
            answers = {
                1: _FIXED | (0x08 if self.faulted else 0),
                2: _FIXED | (0x04 if self.cover_open else 0) | (0x20 if out else 0),
                3: _FIXED,
                4: _FIXED | (0x0C if near else 0) | (0x60 if out else 0),
            }
            return answers.get(n)
        if name == "ESC v" or n in (1, 49):
            return (0x03 if near else 0) | (0x0C if out else 0)
        return 0x00 if n in (2, 50) else None

    # --- waiting ----------------------------------------------------------------------------------------

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> None:  # noqa: ASYNC109
        """Wait until ``predicate()`` holds, checked at each change (data, job, connection closed)."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(f"the virtual printer did not reach the state in {timeout} s") from None

    async def wait_for_jobs(self, n: int, timeout: float) -> list[PrintedJob]:  # noqa: ASYNC109
        """Wait until at least ``n`` jobs are printed (and drawn); all the jobs so far."""
        try:
            await self.wait_for(lambda: len(self.jobs) >= n, timeout)
        except TimeoutError:
            raise TimeoutError(f"{len(self.jobs)} of {n} print jobs after {timeout} s") from None
        return list(self.jobs)

    async def idle(self) -> None:
        """Wait until every job received so far is drawn and kept."""
        await self._queue.join()

    def snapshot(self) -> list[dict[str, object]]:
        """The jobs as JSON-able dicts, for a web page."""
        return [
            {
                "id": job.id,
                "received_at": job.received_at.isoformat(),
                "text": job.text,
                "drawer_kicks": job.drawer_kicks,
            }
            for job in self.jobs
        ]

    # --- jobs -------------------------------------------------------------------------------------------

    def _end_job(self, data: bytes, printout: Printout, discarded: Printout | None) -> None:
        if discarded is not None and (discarded.has_content or discarded.drawer_kicks):
            self.discarded_jobs += 1
        if printout.has_content or printout.drawer_kicks:
            received = _Received(self._next_id, data, printout, datetime.now(UTC))
            self._next_id += 1
            self._queue.put_nowait(received)
        self._notify()

    async def _render_jobs(self) -> None:
        while True:
            received = await self._queue.get()
            try:
                job = await asyncio.to_thread(self._draw, received)
            except Exception:  # a drawing bug must not stop the printer: the job is kept undrawn
                log.exception("virtual printer: job %d could not be drawn", received.id)
                job = PrintedJob(
                    received.id,
                    received.data,
                    received.printout,
                    received.printout.text(),
                    b"",
                    received.printout.drawer_kicks,
                    received.received_at,
                )
            self.jobs.append(job)
            self._queue.task_done()
            self._notify()

    def _draw(self, received: _Received) -> PrintedJob:
        printout = received.printout
        job = PrintedJob(
            received.id,
            received.data,
            printout,
            render_text(printout, self.columns),
            render_png(printout, self.width_dots),
            printout.drawer_kicks,
            received.received_at,
        )
        if self.jobs_dir is not None:
            stem = self.jobs_dir / f"{job.id:04d}"
            stem.with_suffix(".bin").write_bytes(job.data)
            stem.with_suffix(".txt").write_text(job.text, encoding="utf-8")
            stem.with_suffix(".png").write_bytes(job.png)
        return job


class _Connection(asyncio.Protocol):
    """One client's byte stream: split into commands, status answered, jobs cut out and handed over."""

    def __init__(self, printer: VirtualPrinter) -> None:
        self.printer = printer
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buf = b""
        self._job = bytearray()
        self._decoder = Decoder(printer.width_dots)
        self._discarded: Decoder | None = None  # what arrived during a fault, read only to count jobs

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.printer._open.add(self)
        self.printer.connections += 1
        if self.printer.offline:
            transport.pause_reading()
        self.printer._notify()

    def set_reading(self, on: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if on:
            self.transport.resume_reading()
        else:
            self.transport.pause_reading()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        buf, pos = self._buf + data, 0
        while pos < len(buf):
            found = scan(buf, pos)
            if found is None:
                break
            name, end = found
            self._command(name, buf[pos:end])
            pos = end
        self._buf = buf[pos:]
        self.printer._notify()

    def _command(self, name: str, raw: bytes) -> None:
        printer = self.printer
        if name in _STATUS_COMMANDS and self.transport is not None:
            answer = printer.status(name, raw[2] if name != "ESC v" else 1)
            if answer is not None:
                self.transport.write(bytes((answer,)))
                printer.status_answers += 1
        self._job += raw
        if printer.faulted and name not in _STATUS_COMMANDS:
            printer.discarded_bytes += len(raw)
            if self._discarded is None:
                self._discarded = Decoder(printer.width_dots)
            self._discarded.execute(name, raw)
        else:
            self._decoder.execute(name, raw)
        if name in _CUT_COMMANDS:
            self._end_job()

    def _end_job(self) -> None:
        discarded = self._discarded.take() if self._discarded is not None else None
        self._discarded = None
        data, self._job = bytes(self._job), bytearray()
        self.printer._end_job(data, self._decoder.take(), discarded)

    def connection_lost(self, exc: Exception | None) -> None:
        tail, self._buf = self._buf, b""
        self._job += tail
        if self.printer.faulted and tail:
            self.printer.discarded_bytes += len(tail)
            tail = b""
        self._decoder.finish(tail)
        self.printer._open.discard(self)
        self._end_job()  # after leaving the open set: waiters on open_connections see it gone
        if not self.lost.done():
            self.lost.set_result(None)


async def run_virtual_printer(
    host: str = "127.0.0.1", port: int = 9100, width_dots: int = 576, jobs_dir: Path | None = None
) -> None:
    """Run a virtual printer until cancelled, saying where it listens."""
    async with VirtualPrinter(host, port, width_dots=width_dots, jobs_dir=jobs_dir) as printer:
        where = f", jobs in {jobs_dir}" if jobs_dir is not None else ""
        print(f"virtual printer on {host}:{printer.port} ({width_dots} dots){where}", flush=True)
        await asyncio.Event().wait()
