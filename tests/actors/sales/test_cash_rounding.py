from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.sales.cash_rounding import round_cash_clp
from actors.sales.errors import InvalidAmountError
from tests.actors.sales.reference import ref_cash_round


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (1_000, 1_000),
        (1_001, 1_000),
        (1_004, 1_000),
        (1_005, 1_000),  # five goes down (in the consumer's favour)
        (1_006, 1_010),
        (1_009, 1_010),
        (1_234, 1_230),
        (1_236, 1_240),
        (0, 0),
        (4, 0),
        (5, 0),
        (6, 10),
        (99_995, 99_990),
        (99_996, 100_000),
    ],
)
def test_examples(amount: int, expected: int) -> None:
    assert round_cash_clp(amount) == expected


def test_negative_refused() -> None:
    with pytest.raises(InvalidAmountError):
        round_cash_clp(-5)


@given(st.integers(0, 10**12))
def test_follows_the_law(amount: int) -> None:
    rounded = round_cash_clp(amount)
    assert rounded % 10 == 0
    assert abs(rounded - amount) <= 5
    last = amount % 10
    if last == 0:
        assert rounded == amount
    elif last <= 5:
        assert rounded == amount - last
    else:
        assert rounded == amount + 10 - last
    assert rounded == ref_cash_round(amount)
