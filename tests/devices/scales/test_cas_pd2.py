"""The CAS PD-II (TYPE-6) parser, byte by byte: handshake, frames, BCC, resynchronisation, splits."""

from __future__ import annotations

import random

import pytest

from devices.scales.cas_pd2 import MAX_BUFFER, CasPd2
from devices.scales.protocol import protocol_for
from devices.scales.reading import WeightReading

SOH, STX, ETX, EOT, ENQ, ACK, DC1 = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x11


def frame(sta: bytes, sign: bytes, field: bytes, unit: bytes = b"KG", *, bcc: int | None = None) -> bytes:
    """A frame as the manual lays it out; the BCC is computed here independently of the parser."""
    body = sta + sign + field + unit
    check = 0
    for byte in body:
        check ^= byte
    return bytes([SOH, STX]) + body + bytes([check if bcc is None else bcc, ETX, EOT])


def test_commands_and_handshake() -> None:
    parser = CasPd2()
    assert parser.name == "cas_pd2"
    assert parser.poll_request() == bytes([ENQ])
    assert parser.tare_request() is None
    assert parser.zero_request() is None
    assert parser.take_output() == b""
    assert parser.feed(bytes([ACK])) == []
    assert parser.take_output() == bytes([DC1])
    assert parser.take_output() == b""  # asked for once per ACK
    assert parser.rejected == 0  # an ACK is part of the exchange, not noise


def test_stable_weight() -> None:
    parser = CasPd2()
    assert len(frame(b"S", b" ", b" 1.250")) == 15
    assert parser.feed(frame(b"S", b" ", b" 1.250")) == [WeightReading(grams=1250, stable=True)]
    assert parser.rejected == 0


@pytest.mark.parametrize(
    ("field", "grams"),
    [(b" 1.250", 1250), (b"01.250", 1250), (b"12.500", 12500), (b"  0.05", 50), (b"  1500", 1_500_000)],
)
def test_decimal_point_position_comes_from_the_frame(field: bytes, grams: int) -> None:
    assert CasPd2().feed(frame(b"S", b" ", field)) == [WeightReading(grams=grams, stable=True)]


def test_seven_character_variant() -> None:
    long_frame = frame(b"S", b" ", b"  1.250")
    assert len(long_frame) == 16
    assert CasPd2().feed(long_frame) == [WeightReading(grams=1250, stable=True)]


def test_lower_case_unit() -> None:
    assert CasPd2().feed(frame(b"S", b" ", b" 0.500", b"kg")) == [WeightReading(grams=500, stable=True)]


def test_motion_is_unstable() -> None:
    assert CasPd2().feed(frame(b"U", b" ", b" 1.250")) == [WeightReading(grams=1250, stable=False)]


def test_negative_is_under_zero_and_never_stable() -> None:
    [reading] = CasPd2().feed(frame(b"S", b"-", b" 0.250"))
    assert reading == WeightReading(grams=-250, stable=False, under_zero=True)
    assert not reading.sellable


def test_overload() -> None:
    [reading] = CasPd2().feed(frame(b"S", b"F", b"FFFFFF"))
    assert reading == WeightReading(grams=0, stable=False, overload=True)


@pytest.mark.parametrize(
    "bad",
    [
        frame(b"S", b" ", b" 1.250", bcc=0x00),  # wrong BCC
        frame(b"S", b" ", b" 1.250", b"LB"),  # pounds
        frame(b"S", b" ", b" 1.2x0"),  # non-digit in the weight
        frame(b"S", b" ", b" 1,250"),  # comma
        frame(b"S", b" ", b"1.2500"),  # four decimals
        frame(b"S", b"+", b" 1.250"),  # '+' is not a sign of this protocol
        frame(b"X", b" ", b" 1.250"),  # unknown status
        frame(b"S", b"F", b" 1.250"),  # overload sign with a weight
        frame(b"S", b" ", b" 1.250")[:-1] + b"\x00",  # EOT missing
        frame(b"S", b" ", b"1.25"),  # 13 bytes: weight field too short
    ],
)
def test_malformed_frames_are_rejected_not_read(bad: bytes) -> None:
    parser = CasPd2()
    assert parser.feed(bad) == []
    assert parser.feed(frame(b"S", b" ", b" 2.000")) == [WeightReading(grams=2000, stable=True)]
    assert parser.rejected >= 1
    assert parser.last_error


def test_bad_bcc_message() -> None:
    parser = CasPd2()
    parser.feed(frame(b"S", b" ", b" 9.999", bcc=0x7F))
    assert parser.rejected == 1
    assert "BCC" in (parser.last_error or "")


def test_garbage_and_false_frame_starts_resynchronise() -> None:
    parser = CasPd2()
    stream = b"noise\x01\x02S" + frame(b"S", b" ", b" 1.000") + b"\x01junk" + frame(b"U", b" ", b" 2.000")
    readings = parser.feed(stream)
    assert readings == [WeightReading(grams=1000, stable=True), WeightReading(grams=2000, stable=False)]
    assert parser.rejected >= 3


def test_stray_frame_start_does_not_hold_back_the_ack() -> None:
    # Without checking each byte as it comes, the ACK would wait behind the stray SOH for 15 bytes.
    parser = CasPd2()
    assert parser.feed(bytes([SOH, STX, ACK])) == []
    assert parser.take_output() == bytes([DC1])
    assert parser.rejected == 1


def test_handshake_and_frame_in_one_read() -> None:
    parser = CasPd2()
    stream = bytes([ACK]) + frame(b"S", b" ", b" 0.750") + bytes([ACK])
    assert parser.feed(stream) == [WeightReading(grams=750, stable=True)]
    assert parser.take_output() == bytes([DC1])
    assert parser.rejected == 0


def test_split_at_every_byte_boundary() -> None:
    stream = (
        bytes([ACK])
        + frame(b"S", b" ", b" 1.250")
        + frame(b"U", b"-", b" 0.100")
        + frame(b"S", b" ", b"  2.500")
        + frame(b"S", b"F", b"FFFFFF")
    )
    expected = CasPd2().feed(stream)
    assert len(expected) == 4
    for cut in range(len(stream) + 1):
        parser = CasPd2()
        assert parser.feed(stream[:cut]) + parser.feed(stream[cut:]) == expected, cut
        assert parser.rejected == 0
        assert parser.take_output() == bytes([DC1])
    one_by_one = CasPd2()
    assert [r for i in range(len(stream)) for r in one_by_one.feed(stream[i : i + 1])] == expected


def test_noise_cannot_grow_the_buffer() -> None:
    rng = random.Random(2)
    parser = CasPd2()
    for _ in range(200):
        parser.feed(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000))))
        assert parser.buffered <= MAX_BUFFER
    parser.feed(bytes([SOH, STX]) + b"S " + b"1" * 100_000)  # a frame start that never ends
    assert parser.buffered <= MAX_BUFFER
    assert parser.rejected > 0
    assert parser.feed(frame(b"S", b" ", b" 4.321")) == [WeightReading(grams=4321, stable=True)]


def test_registry_builds_cas() -> None:
    assert isinstance(protocol_for("cas_pd2"), CasPd2)
