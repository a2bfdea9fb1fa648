"""How the agent reaches a receipt printer: raw TCP (port 9100), a serial port, USB, or a file (a device node
like ``/dev/usb/lp0``, or a plain file for tests and demos). The hub already rendered the job's ESC/POS
bytes; here they are only written, through python-escpos's printer classes.

``send`` and ``open_printer`` block: the agent runs them in a worker thread. Failures come out as the devices
package's errors: a configuration that cannot work is :class:`DeviceConfigError`; a printer that cannot be
reached or refuses the bytes is :class:`PrinterOfflineError`. Its ``details["stage"]`` says whether no byte
left (``"open"``: safe to retry) or the job broke off midway (``"write"``: part of it may be on paper).

Configuration, as it appears in the agent's settings::

    {"type": "network", "host": "192.168.1.50", "port": 9100, "timeout": 10}
    {"type": "serial", "port": "/dev/ttyUSB0", "baudrate": 9600, "dsrdtr": false}
    {"type": "usb", "vendor_id": "04b8", "product_id": "0202"}
    {"type": "file", "path": "/dev/usb/lp0"}
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from escpos.exceptions import DeviceNotFoundError  # type: ignore[import-untyped, unused-ignore]
from escpos.printer import File, Network, Serial, Usb  # type: ignore[import-untyped, unused-ignore]
from escpos.printer import usb as escpos_usb  # type: ignore[import-untyped, unused-ignore]

from devices.errors import DeviceConfigError, PrinterOfflineError
from devices.printing.layout import PROFILE

_ESCPOS_DIR = f"{os.sep}escpos{os.sep}"


def _not_escpos_chatter(record: logging.LogRecord) -> bool:
    """python-escpos logs every connection ("Network printer enabled") at INFO on the root logger; the
    agent opens one per status query, every two seconds. Its warnings and errors still get through."""
    return record.levelno > logging.INFO or _ESCPOS_DIR not in record.pathname


logging.getLogger().addFilter(_not_escpos_chatter)

Seconds = Annotated[float, msgspec.Meta(gt=0, le=300)]
UsbId = Annotated[int, msgspec.Meta(ge=0, le=0xFFFF)]
Endpoint = Annotated[int, msgspec.Meta(ge=0, le=0xFF)]
# How long to wait, after the last byte, for the printer to close its side (see _finish_network).
LINGER_SECONDS = 2.0


class NetworkPrinter(msgspec.Struct, frozen=True, kw_only=True, tag="network", tag_field="type"):
    host: Annotated[str, msgspec.Meta(min_length=1, max_length=253)]
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 9100
    timeout: Seconds = 10.0  # connect and each write: a big logo over Wi-Fi takes a while


class SerialPrinter(msgspec.Struct, frozen=True, kw_only=True, tag="serial", tag_field="type"):
    port: Annotated[str, msgspec.Meta(min_length=1)]  # /dev/ttyUSB0, COM3
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    timeout: Seconds = 5.0
    # DSR/DTR flow control (python-escpos's default) lets the printer pause us when its buffer fills; a
    # three-wire cable has no DSR and then needs it off, or writes wait forever.
    dsrdtr: bool = True
    xonxoff: bool = False


class UsbPrinter(msgspec.Struct, frozen=True, kw_only=True, tag="usb", tag_field="type"):
    vendor_id: UsbId  # 0x04B8 Epson; hex strings ("04b8", "0x04b8") are accepted by decode_config
    product_id: UsbId
    in_ep: Endpoint = 0x82
    out_ep: Endpoint = 0x01
    timeout_ms: Annotated[int, msgspec.Meta(ge=0, le=300_000)] = 10_000  # 0: wait forever (pyusb)


class FilePrinter(msgspec.Struct, frozen=True, kw_only=True, tag="file", tag_field="type"):
    path: Annotated[str, msgspec.Meta(min_length=1)]


PrinterConfig = NetworkPrinter | SerialPrinter | UsbPrinter | FilePrinter
_TYPES = "network, serial, usb or file"


def decode_config(raw: Mapping[str, Any]) -> PrinterConfig:
    """The printer section of the agent's settings, checked (:class:`DeviceConfigError` if not valid)."""
    if not isinstance(raw, Mapping):
        raise DeviceConfigError(f"the printer configuration must be an object with a type ({_TYPES})")
    data = dict(raw)
    if data.get("type") == "usb":
        for key in ("vendor_id", "product_id"):
            if isinstance(data.get(key), str):
                data[key] = _hex_id(key, data[key])
    try:
        config: PrinterConfig = msgspec.convert(data, PrinterConfig)
    except msgspec.ValidationError as error:
        raise DeviceConfigError(
            f"the printer configuration is not valid: {error} (type is {_TYPES})", config=data
        ) from error
    return config


def _hex_id(key: str, value: str) -> int:
    """USB ids are written in hex everywhere (lsusb: ``04b8:0202``)."""
    try:
        return int(value.removeprefix("0x").removeprefix("0X"), 16)
    except ValueError:
        raise DeviceConfigError(
            f"the printer's {key} {value!r} is not a hexadecimal USB id like 04b8"
        ) from None


def describe(config: PrinterConfig) -> str:
    """The printer as error messages name it."""
    match config:
        case NetworkPrinter(host=host, port=port):
            return f"the network printer {host}:{port}"
        case SerialPrinter(port=port):
            return f"the serial printer on {port}"
        case UsbPrinter(vendor_id=vendor, product_id=product):
            return f"the USB printer {vendor:04x}:{product:04x}"
        case FilePrinter(path=path):
            return f"the printer file {path}"


def open_printer(config: PrinterConfig) -> Any:
    """An open python-escpos printer (``Network``, ``Serial``, ``Usb``, ``File``): :func:`close` it after."""
    printer: Any
    match config:
        case NetworkPrinter():
            printer = Network(config.host, port=config.port, timeout=config.timeout, profile=PROFILE)
        case SerialPrinter():
            printer = Serial(
                devfile=config.port,
                baudrate=config.baudrate,
                bytesize=config.bytesize,
                parity=config.parity,
                stopbits=config.stopbits,
                timeout=config.timeout,
                dsrdtr=config.dsrdtr,
                xonxoff=config.xonxoff,
                profile=PROFILE,
            )
        case UsbPrinter():
            # python-escpos needs pyusb for USB and fails with a NameError or RuntimeError without it.
            if not escpos_usb.is_usable():
                raise DeviceConfigError(
                    f"{describe(config)} needs pyusb (and libusb), which this agent does not have: install "
                    "pyusb, or print through the kernel's device with a file printer (/dev/usb/lp0)"
                )
            printer = Usb(
                config.vendor_id,
                config.product_id,
                timeout=config.timeout_ms,
                in_ep=config.in_ep,
                out_ep=config.out_ep,
                profile=PROFILE,
            )
        case FilePrinter():
            printer = File(devfile=config.path, profile=PROFILE)
    try:
        printer.open()
    except (DeviceNotFoundError, OSError) as error:
        raise PrinterOfflineError(
            f"{describe(config)} cannot be reached: {_reason(error)}", printer=describe(config), stage="open"
        ) from error
    return printer


def send(config: PrinterConfig, data: bytes) -> None:
    """Write ``data`` (a rendered job) to the printer as is. Blocking."""
    printer = open_printer(config)
    try:
        printer._raw(data)
        if isinstance(config, NetworkPrinter):
            _finish_network(printer.device)
    except OSError as error:  # socket errors and timeouts, serial.SerialException, usb.core.USBError
        raise PrinterOfflineError(
            f"{describe(config)} stopped taking the job: {_reason(error)}",
            printer=describe(config),
            stage="write",
        ) from error
    finally:
        close(printer)


def close(printer: Any) -> None:
    """Close a printer from :func:`open_printer`; a connection that already broke is not a second error."""
    with contextlib.suppress(Exception):
        printer.close()


def _finish_network(connection: socket.socket) -> None:
    """Close our side and wait briefly for the printer to close its own.

    Closing a socket that still has unread bytes (status a printer sent on its own) resets the connection,
    and a reset can drop the end of the job still in our send buffer. Shutting down writing first and
    reading to the printer's end of file makes the close clean; printers that keep the connection open get
    :data:`LINGER_SECONDS`. A printer that resets the connection instead had not read all of the job (a
    reset is what a close with unread bytes sends): that is a failed write, raised as one, even when every
    byte had left our side before it came.
    """
    connection.shutdown(socket.SHUT_WR)
    connection.settimeout(min(LINGER_SECONDS, connection.gettimeout() or LINGER_SECONDS))
    with contextlib.suppress(TimeoutError):
        while connection.recv(1024):
            pass


def _reason(error: BaseException) -> str:
    """python-escpos wraps the OS error in a multi-line message: keep the last, informative line."""
    text = str(error).strip().splitlines()
    return text[-1] if text else type(error).__name__
