"""A receipt printer's state from its real-time status bytes (Epson ESC/POS, DLE EOT n; the clones sold in
Chile and Ecuador answer the same way).

Each DLE EOT n query is answered with one byte whose bits 1 and 4 are set and bits 0 and 7 clear, which is
how a status byte is told from anything else on the line:

* n = 1, printer status: bit 3 offline.
* n = 2, offline cause: bit 2 cover open, bit 5 printing stopped by the paper end, bit 6 an error.
* n = 4, roll paper sensor: bits 2-3 paper near its end, bits 5-6 no paper.

The printer answers DLE EOT even when offline (that is what it is for), so the agent can show "no paper"
rather than "printer not responding". A file printer has nothing to ask and is always ready.
"""

from __future__ import annotations

from typing import Any

import msgspec

from devices.errors import PrinterError, PrinterOfflineError
from devices.printing.transports import (
    FilePrinter,
    NetworkPrinter,
    PrinterConfig,
    SerialPrinter,
    UsbPrinter,
    close,
    describe,
    open_printer,
)

DLE_EOT = b"\x10\x04"
_FIXED_MASK = 0b1001_0011  # bits 0, 1, 4, 7
_FIXED_BITS = 0b0001_0010  # bits 1 and 4 set, 0 and 7 clear


class PrinterStatus(msgspec.Struct, frozen=True, kw_only=True):
    online: bool = True
    paper_out: bool = False
    paper_near_end: bool = False  # still prints: a warning to change the roll soon
    cover_open: bool = False
    error: bool = False  # cutter jam, head too hot, or another error the printer reports

    @property
    def ready(self) -> bool:
        """Whether a job sent now would print."""
        return self.online and not (self.paper_out or self.cover_open or self.error)


def parse_status(b1: int, b2: int, b4: int) -> PrinterStatus:
    """The answers to DLE EOT 1, 2 and 4 as a status; :class:`PrinterError` if one is not a status byte."""
    for n, byte in ((1, b1), (2, b2), (4, b4)):
        if not 0 <= byte <= 0xFF or byte & _FIXED_MASK != _FIXED_BITS:
            raise PrinterError(
                f"the printer answered DLE EOT {n} with 0x{byte:02x}, which is not a status byte"
            )
    return PrinterStatus(
        online=not b1 & 0x08,
        cover_open=bool(b2 & 0x04),
        paper_out=bool(b2 & 0x20 or b4 & 0x60),
        paper_near_end=bool(b4 & 0x0C),
        error=bool(b2 & 0x40),
    )


def query_status(config: PrinterConfig, timeout: float = 2.0) -> PrinterStatus:
    """Ask the printer (DLE EOT 1, 2, 4). Blocking; :class:`PrinterOfflineError` when it cannot be reached or
    does not answer within ``timeout`` seconds."""
    match config:
        case FilePrinter():
            return PrinterStatus()
        case NetworkPrinter() | SerialPrinter():
            config = msgspec.structs.replace(config, timeout=timeout)
        case UsbPrinter():
            config = msgspec.structs.replace(config, timeout_ms=max(1, round(timeout * 1000)))
    printer = open_printer(config)
    try:
        answers = [_ask(printer, config, n) for n in (1, 2, 4)]
    finally:
        close(printer)
    return parse_status(*answers)


def _ask(printer: Any, config: PrinterConfig, n: int) -> int:
    try:
        printer._raw(DLE_EOT + bytes([n]))
        reply = _read(printer, config)
    except OSError as error:  # socket timeout or reset, serial or USB failure
        raise PrinterOfflineError(
            f"{describe(config)} did not answer its status query (DLE EOT {n}): {error or 'timed out'}",
            printer=describe(config),
        ) from error
    if not reply:
        raise PrinterOfflineError(
            f"{describe(config)} did not answer its status query (DLE EOT {n})", printer=describe(config)
        )
    # The newest byte answers this query: anything before it is a late answer or unsolicited status.
    return reply[-1]


def _read(printer: Any, config: PrinterConfig) -> bytes:
    device = printer.device
    if isinstance(config, SerialPrinter):
        # python-escpos reads 16 bytes, which on a serial port waits out the whole timeout for each query.
        return bytes(device.read(1))
    if isinstance(config, NetworkPrinter):
        return bytes(device.recv(16))
    return bytes(printer._read())
