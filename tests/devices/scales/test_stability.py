"""StableWeight: stable only when the scale says so and the weight held within tolerance for the window."""

from __future__ import annotations

import pytest

from devices.scales.reading import WeightReading
from devices.scales.stability import StableWeight


def steady(grams: int, *, net: bool = False) -> WeightReading:
    return WeightReading(grams=grams, stable=True, net=net)


def test_stable_only_after_the_window() -> None:
    filt = StableWeight(window_ms=500, tolerance_g=2)
    assert not filt.feed(steady(1000), 0).stable
    assert not filt.feed(steady(1000), 250).stable
    assert not filt.feed(steady(1000), 499).stable
    assert filt.feed(steady(1000), 500) == steady(1000)
    assert filt.feed(steady(1000), 900).stable


def test_drift_within_tolerance_keeps_the_window() -> None:
    filt = StableWeight(window_ms=300, tolerance_g=2)
    filt.feed(steady(1000), 0)
    filt.feed(steady(1002), 100)
    filt.feed(steady(1001), 200)
    assert filt.feed(steady(1000), 300).stable


def test_drift_adds_up_against_the_whole_window() -> None:
    # Each step is within tolerance of the last, but the spread over the window is not.
    filt = StableWeight(window_ms=300, tolerance_g=2)
    for i, grams in enumerate([1000, 1002, 1004, 1006, 1008]):
        assert not filt.feed(steady(grams), i * 100).stable


def test_jitter_beyond_tolerance_restarts_the_window() -> None:
    filt = StableWeight(window_ms=300, tolerance_g=2)
    filt.feed(steady(1000), 0)
    filt.feed(steady(1000), 200)
    assert not filt.feed(steady(1010), 300).stable  # the window restarts here
    assert not filt.feed(steady(1010), 500).stable
    assert filt.feed(steady(1010), 600).stable


def test_scale_motion_restarts_the_window() -> None:
    filt = StableWeight(window_ms=300, tolerance_g=2)
    filt.feed(steady(1000), 0)
    moving = filt.feed(WeightReading(grams=1000, stable=False), 200)
    assert not moving.stable
    assert not filt.feed(steady(1000), 300).stable
    assert filt.feed(steady(1000), 600).stable


@pytest.mark.parametrize(
    "bad",
    [
        WeightReading(grams=0, stable=False, overload=True),
        WeightReading(grams=-20, stable=False, under_zero=True),
    ],
)
def test_out_of_range_is_never_stable(bad: WeightReading) -> None:
    filt = StableWeight(window_ms=0, tolerance_g=2)
    for now in range(0, 2000, 100):
        assert filt.feed(bad, now) == bad
    assert filt.feed(steady(5), 2000).stable  # a zero window is immediately stable once the range is fine


def test_tare_applied_restarts_the_window() -> None:
    filt = StableWeight(window_ms=300, tolerance_g=2)
    filt.feed(steady(0), 0)
    assert filt.feed(steady(0), 300).stable
    assert not filt.feed(steady(0, net=True), 400).stable
    assert filt.feed(steady(0, net=True), 700).stable


def test_reset_forgets_the_window() -> None:
    filt = StableWeight(window_ms=300, tolerance_g=2)
    filt.feed(steady(700), 0)
    filt.reset()
    assert not filt.feed(steady(700), 300).stable


def test_other_fields_pass_through() -> None:
    filt = StableWeight(window_ms=0)
    assert filt.feed(steady(1234, net=True), 0) == WeightReading(grams=1234, stable=True, net=True)


def test_negative_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        StableWeight(window_ms=-1)
