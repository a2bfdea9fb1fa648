"""The agent's TOML file: a good one loads; each kind of mistake says what and where."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from devices.agent.config import load_config
from devices.errors import DeviceConfigError

SCALE = "6f1c2a4e-0d4b-4a57-9d55-2f0b8e1c7a10"
PRINTER = "0b7e9f52-3c1d-4e8a-a1f0-5d6c7b8a9e01"

GOOD = f"""
[agent]
name = "caja-1"
state_dir = "var/agent"

[[scale]]
device_id = "{SCALE}"
port = "/dev/ttyUSB0"
protocol = "toledo8217"
baudrate = 4800

[[printer]]
device_id = "{PRINTER}"
transport = {{ type = "network", host = "192.168.1.50", port = 9100 }}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_a_good_file_loads_with_defaults_and_the_state_dir_beside_it(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.agent.name == "caja-1"
    assert config.state_dir == tmp_path / "var" / "agent"
    (scale,) = config.scale
    assert scale.device_id == uuid.UUID(SCALE)
    assert scale.serial_options() == {"baudrate": 4800}
    (printer,) = config.printer
    assert printer.transport == {"type": "network", "host": "192.168.1.50", "port": 9100}
    assert printer.status_interval_s == 2.0
    assert config.device_ids == [uuid.UUID(SCALE), uuid.UUID(PRINTER)]


def test_an_absolute_state_dir_is_kept(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, f'[agent]\nstate_dir = "{tmp_path}/elsewhere"\n'))
    assert config.state_dir == tmp_path / "elsewhere"
    assert config.scale == [] and config.printer == []


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DeviceConfigError, match=r"nope\.toml does not exist"):
        load_config(tmp_path / "nope.toml")


def test_bad_toml_says_where(tmp_path: Path) -> None:
    with pytest.raises(DeviceConfigError, match=r"not valid TOML.*line 2"):
        load_config(write(tmp_path, "[agent]\nname = \n"))


def test_an_unknown_key_is_named_with_its_place(tmp_path: Path) -> None:
    with pytest.raises(DeviceConfigError, match=r"unknown field `baud`.*\$\.scale\[0\]"):
        load_config(write(tmp_path, GOOD.replace("baudrate", "baud")))
    with pytest.raises(DeviceConfigError, match=r"unknown field `colour`"):
        load_config(write(tmp_path, GOOD.replace('name = "caja-1"', 'name = "caja-1"\ncolour = "red"')))


def test_an_unknown_section_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DeviceConfigError, match=r"unknown field `drawer`"):
        load_config(write(tmp_path, GOOD + "\n[[drawer]]\nport = 1\n"))


def test_duplicate_device_ids_are_refused(tmp_path: Path) -> None:
    twice = GOOD + f'\n[[printer]]\ndevice_id = "{SCALE}"\ntransport = {{ type = "file", path = "/tmp/x" }}\n'
    with pytest.raises(DeviceConfigError, match=f"device_id {SCALE} appears more than once"):
        load_config(write(tmp_path, twice))


def test_a_bad_protocol_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DeviceConfigError, match=r"toledo9999.*\$\.scale\[0\]\.protocol"):
        load_config(write(tmp_path, GOOD.replace('"toledo8217"', '"toledo9999"')))


def test_a_bad_device_id_and_a_bad_transport_type_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DeviceConfigError, match=r"UUID.*\$\.scale\[0\]\.device_id"):
        load_config(write(tmp_path, GOOD.replace(SCALE, "not-a-uuid")))
    with pytest.raises(DeviceConfigError, match=r"transport type 'bluetooth'"):
        load_config(write(tmp_path, GOOD.replace('type = "network"', 'type = "bluetooth"')))


def test_one_serial_port_cannot_serve_two_scales(tmp_path: Path) -> None:
    second = f'\n[[scale]]\ndevice_id = "{uuid.uuid4()}"\nport = "/dev/ttyUSB0"\nprotocol = "cas_pd2"\n'
    with pytest.raises(DeviceConfigError, match=r"/dev/ttyUSB0 is given to more than one scale"):
        load_config(write(tmp_path, GOOD + second))
