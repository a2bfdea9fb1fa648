"""The Toledo 8217 parser, byte by byte: what it accepts, what it drops, and that splits never matter."""

from __future__ import annotations

import random

import pytest

from devices.errors import ScaleProtocolError
from devices.scales.protocol import PROTOCOLS, protocol_for
from devices.scales.reading import WeightReading
from devices.scales.toledo8217 import MAX_BUFFER, Toledo8217

STX, CR = b"\x02", b"\r"


def weight(field: bytes) -> bytes:
    return STX + field + CR


def status(byte: int) -> bytes:
    return STX + b"?" + bytes([byte]) + CR


def test_commands() -> None:
    parser = Toledo8217()
    assert parser.name == "toledo8217"
    assert parser.poll_request() == b"W"
    assert parser.zero_request() == b"Z"
    assert parser.tare_request() == b"T\r"
    assert parser.take_output() == b""


def test_stable_weight_in_kilograms() -> None:
    parser = Toledo8217()
    assert parser.feed(weight(b"01.250")) == [WeightReading(grams=1250, stable=True)]
    assert parser.rejected == 0
    assert parser.last_error is None


@pytest.mark.parametrize(
    ("field", "grams"),
    [(b"01.250", 1250), (b"00.005", 5), (b"012.50", 12500), (b"0001.5", 1500), (b"000250", 250_000)],
)
def test_decimal_point_position_comes_from_the_frame(field: bytes, grams: int) -> None:
    assert Toledo8217().feed(weight(field)) == [WeightReading(grams=grams, stable=True)]


def test_net_weight_is_flagged() -> None:
    assert Toledo8217().feed(weight(b"00.750N")) == [WeightReading(grams=750, stable=True, net=True)]


def test_motion_status_is_unstable_without_weight() -> None:
    [reading] = Toledo8217().feed(status(0x40 | 0x01))
    assert reading == WeightReading(grams=0, stable=False)
    assert not reading.sellable


def test_over_capacity_status() -> None:
    [reading] = Toledo8217().feed(status(0x40 | 0x02))
    assert reading.overload and not reading.stable and not reading.sellable


def test_under_zero_status() -> None:
    [reading] = Toledo8217().feed(status(0x40 | 0x04 | 0x01))
    assert reading.under_zero and not reading.stable


def test_net_status_and_parity_bit_is_ignored() -> None:
    [reading] = Toledo8217().feed(status(0x80 | 0x40 | 0x20))
    assert reading == WeightReading(grams=0, stable=False, net=True)


@pytest.mark.parametrize(
    "frame",
    [
        weight(b"1.250"),  # 5-character field
        weight(b"001.250"),  # 7-character field
        weight(b"01.2x0"),  # non-digit
        weight(b"01,250"),  # comma is not a decimal point
        weight(b"0.1.25"),  # two decimal points
        weight(b"1.2500"),  # four decimals would be a tenth of a gram
        weight(b"01.25 "),  # space after the digits
        weight(b"\xb01.250"),  # a digit with the parity bit still set (7E1 read as 8N1)
        status(0x21),  # status byte without its always-1 bit 6
        STX + b"?AB" + CR,  # status frame too long
        STX + CR,  # empty frame
    ],
)
def test_malformed_frames_are_rejected_not_read(frame: bytes) -> None:
    parser = Toledo8217()
    assert parser.feed(frame) == []
    assert parser.rejected == 1
    assert parser.last_error
    # The parser is back in step: the next good frame reads normally.
    assert parser.feed(weight(b"02.000")) == [WeightReading(grams=2000, stable=True)]


def test_garbage_between_frames_is_dropped_and_counted() -> None:
    parser = Toledo8217()
    readings = parser.feed(b"hello" + weight(b"01.000") + b"\x00\xff noise " + weight(b"02.000"))
    assert [r.grams for r in readings] == [1000, 2000]
    assert parser.rejected == 2
    assert "outside a Toledo 8217 frame" in (parser.last_error or "")


def test_frame_cut_short_by_a_new_frame_resynchronises() -> None:
    parser = Toledo8217()
    assert parser.feed(STX + b"01.2" + weight(b"03.000")) == [WeightReading(grams=3000, stable=True)]
    assert parser.rejected == 1
    assert "cut short" in (parser.last_error or "")


def test_missing_cr_is_rejected_once_the_frame_is_too_long() -> None:
    parser = Toledo8217()
    assert parser.feed(STX + b"01.250N12") == []
    assert parser.rejected == 1
    assert parser.feed(weight(b"01.250")) == [WeightReading(grams=1250, stable=True)]


def test_split_at_every_byte_boundary() -> None:
    stream = weight(b"01.250") + status(0x41) + weight(b"00.500N") + status(0x44)
    expected = Toledo8217().feed(stream)
    assert len(expected) == 4
    for cut in range(len(stream) + 1):
        parser = Toledo8217()
        assert parser.feed(stream[:cut]) + parser.feed(stream[cut:]) == expected, cut
        assert parser.rejected == 0
    one_by_one = Toledo8217()
    assert [r for i in range(len(stream)) for r in one_by_one.feed(stream[i : i + 1])] == expected


def test_noise_cannot_grow_the_buffer() -> None:
    rng = random.Random(8217)
    parser = Toledo8217()
    for _ in range(200):
        parser.feed(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000))))
        assert parser.buffered <= MAX_BUFFER
    parser.feed(STX + b"1" * 100_000)  # a frame start followed by an endless field
    assert parser.buffered <= MAX_BUFFER
    assert parser.rejected > 0
    parser.feed(CR)  # end whatever is pending
    assert parser.feed(weight(b"04.321")) == [WeightReading(grams=4321, stable=True)]


def test_registry() -> None:
    assert set(PROTOCOLS) == {"toledo8217", "cas_pd2"}
    assert isinstance(protocol_for("toledo8217"), Toledo8217)
    assert protocol_for("toledo8217") is not protocol_for("toledo8217")  # parser state is per connection
    with pytest.raises(ScaleProtocolError, match="unknown scale protocol"):
        protocol_for("dibal")


def test_reading_cannot_be_stable_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="cannot be stable"):
        WeightReading(grams=100, stable=True, overload=True)
    with pytest.raises(ValueError, match="cannot be stable"):
        WeightReading(grams=-100, stable=True, under_zero=True)
