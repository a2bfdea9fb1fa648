"""The agent's TOML configuration: where it keeps its journal and which scales and printers it drives.

Example::

    [agent]
    name = "caja-1"                 # shown in the hub's logs
    state_dir = "var/agent"         # the journal; relative to this file's folder

    [[scale]]
    device_id = "6f1c2a4e-0d4b-4a57-9d55-2f0b8e1c7a10"
    port = "/dev/ttyUSB0"
    protocol = "toledo8217"         # or "cas_pd2"
    baudrate = 9600                 # optional: bytesize, parity ("N", "E", "O"), stopbits too

    [[printer]]
    device_id = "0b7e9f52-3c1d-4e8a-a1f0-5d6c7b8a9e01"
    transport = { type = "network", host = "192.168.1.50", port = 9100 }
    status_interval_s = 2

The transport table is checked here only for its ``type``; the printer worker decodes the rest with
:func:`devices.printing.transports.decode_config`, so a printer with a bad transport fails its jobs
(the shopkeeper sees why) instead of keeping the scales of the same agent from starting.
"""

from __future__ import annotations

import tomllib
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from devices.errors import DeviceConfigError

__all__ = ["AgentConfig", "AgentSection", "PrinterEntry", "ScaleEntry", "load_config"]

TRANSPORT_TYPES = frozenset({"network", "serial", "usb", "file"})
# The hub's AgentHello takes at most this many devices.
MAX_DEVICES = 32


class _Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class AgentSection(_Strict, frozen=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(max_length=60)] = "storehub-agent"
    state_dir: str = "var/agent"


class ScaleEntry(_Strict, frozen=True, kw_only=True):
    device_id: uuid.UUID
    port: Annotated[str, msgspec.Meta(min_length=1)]
    protocol: Literal["toledo8217", "cas_pd2"]
    baudrate: Annotated[int, msgspec.Meta(gt=0)] | None = None
    bytesize: Literal[5, 6, 7, 8] | None = None
    parity: Literal["N", "E", "O", "M", "S"] | None = None
    stopbits: Literal[1, 2] | None = None

    def serial_options(self) -> dict[str, Any]:
        """Only the settings the file gives, so the protocol's own defaults apply to the rest."""
        options = {
            "baudrate": self.baudrate,
            "bytesize": self.bytesize,
            "parity": self.parity,
            "stopbits": self.stopbits,
        }
        return {key: value for key, value in options.items() if value is not None}


class PrinterEntry(_Strict, frozen=True, kw_only=True):
    device_id: uuid.UUID
    transport: dict[str, Any]
    status_interval_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 2.0


class AgentConfig(_Strict, frozen=True, kw_only=True):
    agent: AgentSection = AgentSection()
    scale: list[ScaleEntry] = []
    printer: list[PrinterEntry] = []

    @property
    def state_dir(self) -> Path:
        """Absolute once the config comes from :func:`load_config`."""
        return Path(self.agent.state_dir)

    @property
    def device_ids(self) -> list[uuid.UUID]:
        return [s.device_id for s in self.scale] + [p.device_id for p in self.printer]


def load_config(path: Path) -> AgentConfig:
    """Read and check the agent's configuration; every problem is a DeviceConfigError naming the file."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise DeviceConfigError(f"agent configuration {path} does not exist", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DeviceConfigError(f"agent configuration {path} cannot be read: {exc}", path=str(path)) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DeviceConfigError(
            f"agent configuration {path} is not valid TOML: {exc}", path=str(path)
        ) from None
    try:
        config = msgspec.convert(raw, AgentConfig)
    except msgspec.ValidationError as exc:
        # msgspec names the offending key and where it is ("Object contains unknown field `x` - at
        # `$.scale[0]`"), which is what someone editing the file needs.
        raise DeviceConfigError(f"agent configuration {path}: {exc}", path=str(path)) from None
    _check(config, path)
    state = Path(config.agent.state_dir).expanduser()
    if not state.is_absolute():
        # Relative to the file, not the working directory: a service manager may start us anywhere.
        state = path.resolve().parent / state
    return msgspec.structs.replace(config, agent=msgspec.structs.replace(config.agent, state_dir=str(state)))


def _check(config: AgentConfig, path: Path) -> None:
    seen: set[uuid.UUID] = set()
    for device_id in config.device_ids:
        if device_id in seen:
            raise DeviceConfigError(
                f"agent configuration {path}: device_id {device_id} appears more than once",
                path=str(path),
            )
        seen.add(device_id)
    if len(seen) > MAX_DEVICES:
        raise DeviceConfigError(
            f"agent configuration {path}: {len(seen)} devices, at most {MAX_DEVICES} per agent",
            path=str(path),
        )
    for index, printer in enumerate(config.printer):
        kind = printer.transport.get("type")
        if kind not in TRANSPORT_TYPES:
            raise DeviceConfigError(
                f"agent configuration {path}: printer[{index}] ({printer.device_id}) transport type "
                f"{kind!r} is not one of {', '.join(sorted(TRANSPORT_TYPES))}",
                path=str(path),
            )
    ports = [s.port for s in config.scale]
    for port in ports:
        if ports.count(port) > 1:
            raise DeviceConfigError(
                f"agent configuration {path}: serial port {port} is given to more than one scale",
                path=str(path),
            )
