from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.sales.rounding import round_half_up
from tests.actors.sales.reference import ref_round


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (0, 7, 0),
        (14, 7, 2),
        (1, 2, 1),  # a tie goes away from zero
        (3, 2, 2),
        (5, 2, 3),
        (-1, 2, -1),
        (-3, 2, -2),
        (1, 3, 0),
        (2, 3, 1),
        (-2, 3, -1),
        (-1, 3, 0),
        (1499, 1000, 1),
        (1500, 1000, 2),
        (-1500, 1000, -2),
        (3, -2, -2),  # the sign of the fraction counts, not where it is written
        (-3, -2, 2),
    ],
)
def test_examples(numerator: int, denominator: int, expected: int) -> None:
    assert round_half_up(numerator, denominator) == expected


def test_zero_denominator() -> None:
    with pytest.raises(ZeroDivisionError):
        round_half_up(1, 0)


def test_exact_beyond_float_precision() -> None:
    # 2**60 + 1 halves to a .5 that a float would have lost.
    assert round_half_up(2**60 + 1, 2) == 2**59 + 1
    assert round_half_up(10**30 + 5, 10) == 10**29 + 1


@given(st.integers(-(10**15), 10**15), st.integers(-(10**9), 10**9).filter(bool))
def test_matches_fraction_reference(numerator: int, denominator: int) -> None:
    result = round_half_up(numerator, denominator)
    assert result == ref_round(Fraction(numerator, denominator))
    assert abs(Fraction(numerator, denominator) - result) <= Fraction(1, 2)
