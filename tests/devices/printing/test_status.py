"""Printer status: the DLE EOT bytes as a status, and asking a printer over TCP and serial."""

from __future__ import annotations

import os
import threading
import time
import tty
from collections.abc import Iterator

import pytest

from devices.errors import PrinterError, PrinterOfflineError
from devices.printing.status import PrinterStatus, parse_status, query_status
from devices.printing.transports import FilePrinter, NetworkPrinter, SerialPrinter
from tests.devices.printing.support import FakePrinter, unused_port

OK = 0x12  # bits 1 and 4 set: the fixed bits of every status byte, nothing to report


def test_all_clear_is_ready() -> None:
    status = parse_status(OK, OK, OK)
    assert status == PrinterStatus()
    assert status.ready


@pytest.mark.parametrize(
    ("b1", "b2", "b4", "expected"),
    [
        (OK | 0x08, OK, OK, PrinterStatus(online=False)),
        (OK | 0x08, OK | 0x04, OK, PrinterStatus(online=False, cover_open=True)),
        (OK | 0x08, OK | 0x20, OK | 0x60, PrinterStatus(online=False, paper_out=True)),
        (OK, OK, OK | 0x60, PrinterStatus(paper_out=True)),
        (OK | 0x08, OK | 0x40, OK, PrinterStatus(online=False, error=True)),
    ],
)
def test_faults_are_not_ready(b1: int, b2: int, b4: int, expected: PrinterStatus) -> None:
    status = parse_status(b1, b2, b4)
    assert status == expected
    assert not status.ready


def test_paper_near_end_still_prints() -> None:
    status = parse_status(OK, OK, OK | 0x0C)
    assert status == PrinterStatus(paper_near_end=True)
    assert status.ready


@pytest.mark.parametrize(
    ("b1", "b2", "b4"), [(0x00, OK, OK), (OK, 0x92, OK), (OK, OK, 0x13), (OK, OK, 0x1FF)]
)
def test_a_byte_that_is_not_a_status_is_refused(b1: int, b2: int, b4: int) -> None:
    with pytest.raises(PrinterError, match="not a status byte"):
        parse_status(b1, b2, b4)


def test_a_file_printer_is_always_ready() -> None:
    assert query_status(FilePrinter(path="/nonexistent/lp0")).ready


def test_query_over_tcp() -> None:
    answers = {1: OK | 0x08, 2: OK | 0x20, 4: OK | 0x6C}
    with FakePrinter(answers) as printer:
        status = query_status(NetworkPrinter(host="127.0.0.1", port=printer.port), timeout=2)
        assert printer.done.wait(5)
    assert status == PrinterStatus(online=False, paper_out=True, paper_near_end=True)
    assert printer.received == [b"\x10\x04\x01\x10\x04\x02\x10\x04\x04"]


def test_a_printer_that_does_not_answer_is_offline() -> None:
    with FakePrinter(silent=True) as printer:
        started = time.monotonic()
        with pytest.raises(PrinterOfflineError, match=r"did not answer its status query \(DLE EOT 1\)"):
            query_status(NetworkPrinter(host="127.0.0.1", port=printer.port), timeout=0.3)
        assert time.monotonic() - started < 2


def test_unreachable_printer_is_offline_quickly() -> None:
    port = unused_port()
    started = time.monotonic()
    with pytest.raises(PrinterOfflineError, match="cannot be reached"):
        query_status(NetworkPrinter(host="127.0.0.1", port=port), timeout=1)
    assert time.monotonic() - started < 2


@pytest.fixture
def serial_printer() -> Iterator[str]:
    """A pseudo-terminal answering DLE EOT 1, 2, 4 like a printer with its paper near the end."""
    ours, theirs = os.openpty()
    tty.setraw(ours)
    answers = {1: OK, 2: OK, 4: OK | 0x0C}

    def answer() -> None:
        pending = b""
        while True:
            try:
                pending += os.read(ours, 64)
            except OSError:
                return
            while len(pending) >= 3 and pending[:2] == b"\x10\x04":
                os.write(ours, bytes([answers[pending[2]]]))
                pending = pending[3:]

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield os.ttyname(theirs)
    finally:
        os.close(theirs)
        os.close(ours)
        thread.join(5)


def test_query_over_serial(serial_printer: str) -> None:
    started = time.monotonic()
    status = query_status(SerialPrinter(port=serial_printer), timeout=2)
    assert status == PrinterStatus(paper_near_end=True)
    assert time.monotonic() - started < 1  # one byte read per query, not python-escpos's 16 and a timeout
