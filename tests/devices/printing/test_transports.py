"""Printer configuration and sending bytes: to a file, to a TCP printer in a thread, to a pseudo-terminal."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
import tty
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devices.errors import DeviceConfigError, PrinterOfflineError
from devices.printing.transports import (
    FilePrinter,
    NetworkPrinter,
    SerialPrinter,
    UsbPrinter,
    decode_config,
    open_printer,
    send,
)
from tests.devices.printing.support import FakePrinter, unused_port

# Every byte value, a DLE EOT inside the job and a long tail: the transport must not touch any of it.
JOB = b"\x1b@\x1bt\x02" + bytes(range(256)) + b"\x10\x04\x01" + b"Se\xa4ora\n" * 20_000 + b"\x1dV\x01"


def test_decode_each_type_with_defaults() -> None:
    assert decode_config({"type": "network", "host": "192.168.1.50"}) == NetworkPrinter(
        host="192.168.1.50", port=9100, timeout=10.0
    )
    serial = decode_config({"type": "serial", "port": "/dev/ttyUSB0", "dsrdtr": False})
    assert serial == SerialPrinter(port="/dev/ttyUSB0", dsrdtr=False)
    assert (serial.baudrate, serial.bytesize, serial.parity, serial.stopbits) == (9600, 8, "N", 1)
    assert decode_config({"type": "usb", "vendor_id": 0x04B8, "product_id": 0x0202}) == UsbPrinter(
        vendor_id=0x04B8, product_id=0x0202
    )
    assert decode_config({"type": "file", "path": "/dev/usb/lp0"}) == FilePrinter(path="/dev/usb/lp0")


def test_usb_ids_may_be_written_in_hex() -> None:
    config = decode_config({"type": "usb", "vendor_id": "04b8", "product_id": "0x0E15", "out_ep": 3})
    assert config == UsbPrinter(vendor_id=0x04B8, product_id=0x0E15, out_ep=3)
    with pytest.raises(DeviceConfigError, match="vendor_id 'epson' is not a hexadecimal USB id"):
        decode_config({"type": "usb", "vendor_id": "epson", "product_id": "0202"})


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"host": "10.0.0.5"}, "type"),
        ({"type": "bluetooth", "host": "x"}, "type"),
        ({"type": "network"}, "host"),
        ({"type": "network", "host": ""}, "host"),
        ({"type": "network", "host": "10.0.0.5", "port": 70000}, "port"),
        ({"type": "network", "host": "10.0.0.5", "port": "9100"}, "port"),
        ({"type": "network", "host": "10.0.0.5", "timeout": 0}, "timeout"),
        ({"type": "serial", "port": "/dev/ttyS0", "baudrate": 9601}, "baudrate"),
        ({"type": "serial", "port": "/dev/ttyS0", "parity": "X"}, "parity"),
        ({"type": "usb", "vendor_id": 0x10000, "product_id": 1}, "vendor_id"),
        ({"type": "file"}, "path"),
    ],
)
def test_bad_configurations_say_what_is_wrong(raw: dict[str, Any], says: str) -> None:
    with pytest.raises(DeviceConfigError) as caught:
        decode_config(raw)
    assert says in caught.value.message
    assert "network, serial, usb or file" in caught.value.message
    assert caught.value.code == "device_config"


def test_a_configuration_that_is_not_an_object() -> None:
    with pytest.raises(DeviceConfigError, match="must be an object"):
        decode_config(["network"])  # type: ignore[arg-type]


def test_send_to_a_file_writes_the_exact_bytes(tmp_path: Path) -> None:
    path = tmp_path / "printer.bin"
    send(FilePrinter(path=str(path)), JOB)
    assert path.read_bytes() == JOB


def test_a_file_that_cannot_be_opened_is_offline(tmp_path: Path) -> None:
    with pytest.raises(PrinterOfflineError, match="no-such-dir"):
        send(FilePrinter(path=str(tmp_path / "no-such-dir" / "lp0")), b"x")


def test_send_over_tcp_delivers_every_byte() -> None:
    with FakePrinter() as printer:
        send(NetworkPrinter(host="127.0.0.1", port=printer.port, timeout=5), JOB)
        assert printer.done.wait(5)
    assert printer.received == [JOB]


def test_unreachable_network_printer_fails_fast() -> None:
    port = unused_port()
    started = time.monotonic()
    with pytest.raises(PrinterOfflineError, match=f"127.0.0.1:{port} cannot be reached") as caught:
        send(NetworkPrinter(host="127.0.0.1", port=port, timeout=5), JOB)
    assert time.monotonic() - started < 2
    assert caught.value.code == "printer_offline"
    assert caught.value.details["stage"] == "open"  # no byte left: the job can be retried
    assert "\n" not in caught.value.message


def test_a_printer_that_drops_the_connection_midway() -> None:
    """Accepted, then reset: the error says the job broke off (part of it may be on paper)."""
    server = socket.create_server(("127.0.0.1", 0))

    def reset() -> None:
        connection, _ = server.accept()
        connection.recv(1024)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()

    thread = threading.Thread(target=reset, daemon=True)
    thread.start()
    try:
        with pytest.raises(PrinterOfflineError, match="stopped taking the job") as caught:
            send(NetworkPrinter(host="127.0.0.1", port=server.getsockname()[1], timeout=5), JOB * 100)
    finally:
        thread.join(5)
        server.close()
    assert caught.value.details["stage"] == "write"


@pytest.fixture
def pty_port() -> Iterator[tuple[int, str]]:
    """A pseudo-terminal standing in for a serial printer: (our end, the port the printer config names)."""
    ours, theirs = os.openpty()
    tty.setraw(ours)
    try:
        yield ours, os.ttyname(theirs)
    finally:
        os.close(ours)
        os.close(theirs)


def test_send_over_serial(pty_port: tuple[int, str]) -> None:
    ours, port = pty_port
    job = JOB[:4000]  # what fits the pseudo-terminal's buffer without a reader on the other side
    send(SerialPrinter(port=port, baudrate=115200, dsrdtr=False), job)
    received = b""
    while len(received) < len(job):
        received += os.read(ours, 65536)
    assert received == job


def test_missing_serial_port_is_offline(tmp_path: Path) -> None:
    with pytest.raises(PrinterOfflineError, match="serial printer on"):
        send(SerialPrinter(port=str(tmp_path / "ttyUSB9")), b"x")


def test_usb_without_pyusb_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("escpos.printer.usb._DEP_USB", False)
    with pytest.raises(DeviceConfigError, match="needs pyusb") as caught:
        open_printer(UsbPrinter(vendor_id=0x04B8, product_id=0x0202))
    assert "04b8:0202" in caught.value.message
