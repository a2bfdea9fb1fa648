"""Backoff: properties of the delay for any attempt, Retry-After and random draw."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fiscal.backoff import Backoff


class Fixed:
    """A random source answering a fixed point of the interval: 0 = its low end, 1 = its high end."""

    def __init__(self, where: float) -> None:
        self.where = where

    def uniform(self, a: float, b: float, /) -> float:
        return a + (b - a) * self.where


backoffs = st.builds(
    lambda base, factor, cap_over_base, jitter: Backoff(base, factor, base * cap_over_base, jitter),
    base=st.floats(0.01, 60),
    factor=st.floats(1, 4),
    cap_over_base=st.floats(1, 10_000),
    jitter=st.floats(0, 1),
)
attempts = st.integers(0, 10_000)
retry_afters = st.none() | st.floats(0, 100_000)
draws = st.floats(0, 1)


@given(backoffs, attempts, retry_afters, draws)
def test_the_delay_is_within_the_jitter_window_of_the_ceiling(
    backoff: Backoff, attempt: int, retry_after: float | None, where: float
) -> None:
    ceiling = backoff.ceiling(attempt)
    delay = backoff.delay(attempt, None, Fixed(where))
    assert ceiling * (1 - backoff.jitter) - 1e-9 <= delay <= ceiling + 1e-9
    assert 0 <= delay <= backoff.cap + 1e-9


@given(backoffs, attempts, st.floats(0, 100_000), draws)
def test_never_below_retry_after(backoff: Backoff, attempt: int, retry_after: float, where: float) -> None:
    delay = backoff.delay(attempt, retry_after, Fixed(where))
    assert delay >= retry_after
    assert delay <= max(backoff.cap, retry_after) + 1e-9


@given(backoffs, st.integers(0, 9_999))
def test_the_ceiling_grows_until_the_cap(backoff: Backoff, attempt: int) -> None:
    assert backoff.ceiling(attempt) <= backoff.ceiling(attempt + 1) <= backoff.cap
    assert backoff.ceiling(0) == pytest.approx(backoff.base)


@given(backoffs, attempts)
def test_no_jitter_is_plain_exponential(backoff: Backoff, attempt: int) -> None:
    plain = Backoff(backoff.base, backoff.factor, backoff.cap, jitter=0)
    assert plain.delay(attempt, rng=random.Random(1)) == plain.ceiling(attempt)


def test_the_default_schedule() -> None:
    backoff = Backoff()
    assert [backoff.ceiling(n) for n in range(10)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert backoff.ceiling(1_000_000) == 300  # no float overflow
    assert backoff.delay(3, rng=Fixed(0)) == 4  # equal jitter: at least half
    assert backoff.delay(3, rng=Fixed(1)) == 8
    assert backoff.delay(3, retry_after=30, rng=Fixed(1)) == 30
    assert backoff.delay(20, retry_after=3600, rng=Fixed(1)) == 3600  # Retry-After beats the cap


def test_draws_spread_over_the_window() -> None:
    rng = random.Random(42)
    delays = [Backoff(jitter=1.0).delay(4, rng=rng) for _ in range(1000)]
    assert min(delays) < 2 and max(delays) > 14  # full jitter uses all of [0, 16]
    assert len({round(d, 3) for d in delays}) > 900


def test_nonsense_is_refused() -> None:
    for kwargs in ({"base": 0}, {"factor": 0.5}, {"cap": 0.5}, {"jitter": 1.5}, {"base": float("inf")}):
        with pytest.raises(ValueError):  # noqa: PT011 (each message names its field)
            Backoff(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="attempt"):
        Backoff().delay(-1)
    assert Backoff().delay(0, retry_after=float("nan"), rng=Fixed(1)) == 1
    assert Backoff().delay(0, retry_after=-5, rng=Fixed(1)) == 1
