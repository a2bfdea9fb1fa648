"""Scales through the whole agent, against a VirtualScale on a real pseudo-terminal."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devices.agent.scale_worker import NO_COMMAND, NOT_ANSWERING
from devices.sim.scale import VirtualScale
from tests.devices.agent.conftest import agent_running, write_config
from tests.devices.agent.fake_hub import FakeHub

SCALE = uuid.uuid4()


@pytest.fixture
async def toledo() -> AsyncIterator[VirtualScale]:
    async with VirtualScale("toledo8217", grams=1250) as scale:
        yield scale


def scale_config(tmp_path: Path, scale: VirtualScale) -> Path:
    # 8N1: some kernels refuse 7 data bits or parity on a pty, and both protocols' bytes are 7-bit anyway.
    return write_config(
        tmp_path,
        f'[[scale]]\ndevice_id = "{SCALE}"\nport = "{scale.path}"\nprotocol = "{scale.protocol}"\n'
        'bytesize = 8\nparity = "N"\n',
    )


async def test_weights_stream_at_ten_a_second_or_more_with_a_fresh_age(
    hub: FakeHub, toledo: VirtualScale, tmp_path: Path
) -> None:
    async with agent_running(hub, scale_config(tmp_path, toledo)):
        await hub.wait_until(lambda: any(w["stable"] for w in hub.of_type("device.weight")), 5)
        mark, started = len(hub.frames), time.monotonic()
        await hub.wait_until(lambda: len(hub.of_type("device.weight", mark)) >= 25, 5)
        elapsed = time.monotonic() - started
        assert 25 / elapsed >= 10, f"{25 / elapsed:.1f} readings a second"
        for weight in hub.of_type("device.weight", mark):
            assert weight["device_id"] == str(SCALE)
            assert weight["grams"] == 1250 and weight["stable"] is True
            assert 0 <= weight["age_ms"] < 500
        status = hub.of_type("device.status")[-1]
        assert status == {
            "device_id": str(SCALE),
            "online": True,
            "paper_out": False,
            "paper_near_end": False,
            "cover_open": False,
            "error": False,
            "detail": "",
        }


async def test_a_tare_directive_reaches_the_scale(hub: FakeHub, toledo: VirtualScale, tmp_path: Path) -> None:
    async with agent_running(hub, scale_config(tmp_path, toledo)):
        await hub.wait_until(lambda: any(w["grams"] == 1250 for w in hub.of_type("device.weight")), 5)
        mark = len(hub.frames)
        await hub.directive("tare", {"device_id": str(SCALE)})
        await hub.wait_until(
            lambda: any(w["grams"] == 0 and w["stable"] for w in hub.of_type("device.weight", mark)), 5
        )
        assert toledo.tare_g == 1250
        toledo.grams = 1750
        await hub.wait_until(lambda: any(w["grams"] == 500 for w in hub.of_type("device.weight", mark)), 5)
        assert not any(s["error"] for s in hub.of_type("device.status"))


async def test_a_zero_directive_reaches_the_scale(hub: FakeHub, tmp_path: Path) -> None:
    # 40 g on an empty platter (a drift), within the scale's zero range.
    async with (
        VirtualScale("toledo8217", grams=40) as toledo,
        agent_running(hub, scale_config(tmp_path, toledo)),
    ):
        await hub.wait_until(lambda: any(w["grams"] == 40 for w in hub.of_type("device.weight")), 5)
        mark = len(hub.frames)
        await hub.directive("zero", {"device_id": str(SCALE)})
        await hub.wait_until(
            lambda: any(w["grams"] == 0 and w["stable"] for w in hub.of_type("device.weight", mark)), 5
        )
        assert toledo.zero_offset_g == 40


async def test_an_order_the_scale_cannot_take_is_reported_not_fatal(hub: FakeHub, tmp_path: Path) -> None:
    async with VirtualScale("cas_pd2", grams=500) as cas, agent_running(hub, scale_config(tmp_path, cas)):
        await hub.wait_until(lambda: any(w["grams"] == 500 for w in hub.of_type("device.weight")), 5)
        await hub.directive("tare", {"device_id": str(SCALE)})
        await hub.wait_until(lambda: any(s["error"] for s in hub.of_type("device.status")))
        status = hub.of_type("device.status")[-1]
        assert status["online"] is True and status["detail"] == f"no se pudo tarar: {NO_COMMAND}"
        mark = len(hub.frames)
        await hub.wait_until(lambda: len(hub.of_type("device.weight", mark)) >= 5)  # still streaming


async def test_a_silent_scale_is_reported_offline_and_back_online(
    hub: FakeHub, toledo: VirtualScale, tmp_path: Path
) -> None:
    async with agent_running(hub, scale_config(tmp_path, toledo)):
        await hub.wait_until(lambda: len(hub.of_type("device.weight")) >= 1, 5)
        toledo.responding = False
        await hub.wait_until(lambda: hub.of_type("device.status")[-1]["online"] is False, 5)
        assert hub.of_type("device.status")[-1]["detail"] == NOT_ANSWERING
        toledo.responding = True
        mark = len(hub.frames)
        await hub.wait_until(lambda: hub.of_type("device.status")[-1]["online"] is True, 5)
        await hub.wait_until(lambda: len(hub.of_type("device.weight", mark)) >= 1, 5)
