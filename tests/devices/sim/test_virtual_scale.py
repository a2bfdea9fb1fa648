"""SerialScale against VirtualScale over a real pseudo-terminal, for each protocol.

Every wait is on readings (events) under ``asyncio.wait_for``; nothing sleeps to let things happen.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import serial_asyncio

from devices.errors import ScaleProtocolError, ScaleUnavailableError
from devices.scales.reading import WeightReading
from devices.scales.serial_scale import SerialScale, SerialSettings, settings_for
from devices.sim.scale import VirtualScale

PROTOCOLS = ["toledo8217", "cas_pd2"]
WINDOW_MS = 300
TIMEOUT_S = 5.0

Rig = tuple[VirtualScale, SerialScale]
# A pty has no UART, so line settings change nothing on it; some kernels (this sandbox's among them) even
# refuse 7 data bits or parity on a pty. Both protocols' bytes are 7-bit, so 8N1 carries them unchanged.


async def open_scale(virtual: VirtualScale, window_ms: int = WINDOW_MS) -> SerialScale:
    return await SerialScale.open(
        virtual.path, virtual.protocol, stable_window_ms=window_ms, bytesize=8, parity="N"
    )


@pytest.fixture(params=PROTOCOLS)
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    protocol: str = request.param
    async with VirtualScale(protocol, grams=1250, seed=7) as virtual:
        scale = await open_scale(virtual)
        try:
            yield virtual, scale
        finally:
            await scale.close()


async def first(scale: SerialScale, predicate: Callable[[WeightReading], bool]) -> WeightReading:
    """The first reading from now on that satisfies ``predicate``."""

    async def search() -> WeightReading:
        async for reading in scale.readings():
            if predicate(reading):
                return reading
        raise AssertionError("the readings ended")

    return await asyncio.wait_for(search(), TIMEOUT_S)


async def collect(scale: SerialScale, count: int) -> list[WeightReading]:
    async def gather() -> list[WeightReading]:
        seen: list[WeightReading] = []
        async for reading in scale.readings():
            seen.append(reading)
            if len(seen) == count:
                return seen
        raise AssertionError("the readings ended")

    return await asyncio.wait_for(gather(), TIMEOUT_S)


def stable_at(grams: int, *, net: bool = False) -> Callable[[WeightReading], bool]:
    return lambda r: r.stable and r.grams == grams and r.net == net


async def test_valid_stable_weight(rig: Rig) -> None:
    virtual, scale = rig
    reading = await first(scale, lambda r: r.stable)
    assert reading == WeightReading(grams=1250, stable=True)
    assert reading.sellable
    assert scale.settings == settings_for(virtual.protocol, bytesize=8, parity="N")
    assert scale.available
    assert scale.rejected == 0


async def test_motion_is_unstable(rig: Rig) -> None:
    virtual, scale = rig
    await first(scale, stable_at(1250))
    virtual.motion = True
    await first(scale, lambda r: not r.stable)
    assert not any(r.stable for r in await collect(scale, 8))
    virtual.motion = False
    await first(scale, stable_at(1250))


async def test_overload(rig: Rig) -> None:
    virtual, scale = rig
    await first(scale, stable_at(1250))
    virtual.overload = True
    await first(scale, lambda r: r.overload)
    readings = await collect(scale, 5)
    assert all(r.overload and not r.stable and not r.sellable for r in readings)


async def test_real_overload_beyond_capacity(rig: Rig) -> None:
    virtual, scale = rig
    virtual.grams = virtual.capacity_g + 1
    reading = await first(scale, lambda r: r.overload)
    assert not reading.stable


async def test_under_zero(rig: Rig) -> None:
    virtual, scale = rig
    await first(scale, stable_at(1250))
    virtual.under_zero = True
    reading = await first(scale, lambda r: r.under_zero)
    assert not reading.stable and not reading.sellable
    virtual.under_zero = False
    virtual.grams = -300  # the platter lifted after zeroing with something on it
    reading = await first(scale, lambda r: r.under_zero)
    assert not reading.stable
    assert reading.grams in (0, -300)  # Toledo sends only the status, CAS sends the negative weight


def fake_frames(protocol: str) -> bytes:
    """Bytes that look like frames claiming 9999 g but are not valid ones, plus plain noise."""
    if protocol == "toledo8217":
        return b"\x0209.999X\r" + b"\x02\x02\xff\xfe line noise \x00\r" + b"\x0209.9\x0209"
    body = b"S  9.999KG"  # a right-looking frame with a wrong BCC, then a frame start that breaks off
    return b"\x01\x02" + body + b"\x00\x03\x04" + b"\x01\x02S \xff\xfe noise"


async def test_injected_garbage_is_never_a_reading(rig: Rig) -> None:
    virtual, scale = rig
    await first(scale, stable_at(1250))
    before = scale.rejected
    seen: list[WeightReading] = []

    def note(reading: WeightReading) -> bool:
        seen.append(reading)
        return scale.rejected > before

    virtual.inject(fake_frames(virtual.protocol))
    await first(scale, note)  # a reading parsed after the garbage was
    assert scale.last_error
    virtual.grams = 2000
    seen.append(await first(scale, stable_at(2000)))  # the next valid frames still parse
    assert all(r.grams in (0, 1250, 2000) for r in seen), seen
    assert 9999 not in {r.grams for r in seen}


async def test_split_frames(rig: Rig) -> None:
    virtual, scale = rig
    virtual.split_frames = True
    await first(scale, lambda r: True)
    before, writes, requests = scale.rejected, virtual.writes, virtual.requests
    readings = await collect(scale, 12)
    assert all(r.grams == 1250 for r in readings)
    assert readings[-1].stable
    assert scale.rejected == before
    # The answers really went out in pieces: several writes per answer (CAS's ACK is a single byte).
    assert virtual.writes - writes > 2 * (virtual.requests - requests)


async def test_jitter_beyond_tolerance_looks_unstable(rig: Rig) -> None:
    virtual, scale = rig
    await first(scale, stable_at(1250))
    virtual.noise_g = 200
    await first(scale, lambda r: not r.stable)
    readings = await collect(scale, 12)
    assert not any(r.stable for r in readings)
    assert len({r.grams for r in readings}) > 1  # the scale itself calls each of them stable
    virtual.noise_g = 0
    await first(scale, stable_at(1250))


async def test_at_least_ten_readings_a_second(rig: Rig) -> None:
    _, scale = rig
    loop = asyncio.get_running_loop()
    await first(scale, lambda r: True)
    start = loop.time()
    count = 0

    async def count_one_second() -> None:
        nonlocal count
        async for _ in scale.readings():
            if loop.time() - start >= 1.0:
                return
            count += 1

    await asyncio.wait_for(count_one_second(), TIMEOUT_S)
    assert count >= 10, count


async def test_silent_scale_is_reported_unavailable_and_retried(rig: Rig) -> None:
    virtual, scale = rig
    await first(scale, stable_at(1250))
    virtual.responding = False

    async def drain() -> None:
        async for _ in scale.readings():
            pass

    with pytest.raises(ScaleUnavailableError, match="no valid frame") as caught:
        await asyncio.wait_for(drain(), TIMEOUT_S)
    assert caught.value.code == "scale_unavailable"
    assert not scale.available
    virtual.responding = True
    await first(scale, stable_at(1250))  # polling never stopped
    assert scale.available


@pytest.fixture
async def toledo() -> AsyncIterator[Rig]:
    async with VirtualScale("toledo8217", grams=0) as virtual, await open_scale(virtual) as scale:
        yield virtual, scale


async def test_tare_makes_the_weight_net(toledo: Rig) -> None:
    virtual, scale = toledo
    virtual.grams = 500  # an empty container
    await first(scale, stable_at(500))
    await scale.tare()
    await first(scale, stable_at(0, net=True))
    virtual.grams = 1750  # goods in the container
    await first(scale, stable_at(1250, net=True))
    assert virtual.tare_g == 500


async def test_zero_sets_zero(toledo: Rig) -> None:
    virtual, scale = toledo
    virtual.grams = 20  # crumbs on the platter
    await first(scale, stable_at(20))
    await scale.zero()
    await first(scale, stable_at(0))
    virtual.grams = 1020
    await first(scale, stable_at(1000))


async def test_cas_has_no_tare_or_zero_command() -> None:
    async with VirtualScale("cas_pd2", grams=100) as virtual, await open_scale(virtual) as scale:
        with pytest.raises(ScaleProtocolError, match="no tare command"):
            await scale.tare()
        with pytest.raises(ScaleProtocolError, match="no zero command"):
            await scale.zero()


async def test_bytes_on_the_wire() -> None:
    """The virtual scales answer with the documented bytes, read here without the parsers."""
    async with VirtualScale("toledo8217", grams=1250) as virtual:
        reader, writer = await serial_asyncio.open_serial_connection(url=virtual.path)
        writer.write(b"W")
        assert await asyncio.wait_for(reader.readuntil(b"\r"), TIMEOUT_S) == b"\x0201.250\r"
        virtual.motion = True
        writer.write(b"W")
        assert await asyncio.wait_for(reader.readuntil(b"\r"), TIMEOUT_S) == b"\x02?A\r"
        writer.close()
    async with VirtualScale("cas_pd2", grams=1250) as virtual:
        reader, writer = await serial_asyncio.open_serial_connection(url=virtual.path)
        writer.write(b"\x05")
        assert await asyncio.wait_for(reader.readexactly(1), TIMEOUT_S) == b"\x06"
        writer.write(b"\x11")
        frame = await asyncio.wait_for(reader.readexactly(15), TIMEOUT_S)
        bcc = 0
        for byte in b"S  1.250KG":
            bcc ^= byte
        assert frame == b"\x01\x02S  1.250KG" + bytes([bcc]) + b"\x03\x04"
        writer.close()


def test_line_settings_default_per_protocol() -> None:
    assert settings_for("toledo8217") == SerialSettings(baudrate=9600, bytesize=7, parity="E", stopbits=1)
    assert settings_for("cas_pd2") == SerialSettings(baudrate=9600, bytesize=8, parity="N", stopbits=1)
    assert settings_for("toledo8217", baudrate=4800).baudrate == 4800
    with pytest.raises(ScaleProtocolError):
        settings_for("bizerba")


async def test_unopenable_port_and_unknown_protocol() -> None:
    with pytest.raises(ScaleUnavailableError, match="cannot open"):
        await SerialScale.open("/dev/storehub-no-such-scale", "toledo8217")
    with pytest.raises(ScaleProtocolError, match="unknown scale protocol"):
        await SerialScale.open("/dev/null", "bizerba")


async def test_virtual_scale_going_away_is_reported() -> None:
    virtual = await VirtualScale("cas_pd2", grams=800).start()
    async with await open_scale(virtual, window_ms=0) as scale:
        await first(scale, stable_at(800))
        await virtual.close()

        async def drain() -> None:
            async for _ in scale.readings():
                pass

        with pytest.raises(ScaleUnavailableError):
            await asyncio.wait_for(drain(), TIMEOUT_S)
