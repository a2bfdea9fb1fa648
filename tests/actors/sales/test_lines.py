from __future__ import annotations

import uuid
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.sales.errors import InvalidAmountError, InvalidDiscountError, InvalidQuantityError
from actors.sales.lines import cart_line, line_total
from schema.messages.catalog import ProductView
from tests.actors.sales.reference import ref_round


@pytest.mark.parametrize(
    ("unit_price", "quantity", "discount", "expected"),
    [
        (1_990, 1_000, 0, 1_990),  # one unit
        (1_990, 3_000, 0, 5_970),  # three units
        (2_990, 1_235, 0, 3_693),  # 1.235 kg at $2,990/kg = 3,692.65
        (2_990, 1_235, 10, 3_324),  # gross 3,693, discount 369.3 -> 369
        (1, 500, 0, 1),  # half a peso rounds up
        (3, 500, 0, 2),  # 1.5 -> 2
        (1, 499, 0, 0),
        (5, 1_000, 10, 4),  # discount 0.5 -> 1
        (1_990, 1_000, 100, 0),  # fully discounted
        (0, 1_000, 50, 0),  # free item
        (1_000_000, 50_000, 33, 33_500_000),  # 50 units of $1,000,000, discount 16,500,000
    ],
)
def test_examples(unit_price: int, quantity: int, discount: int, expected: int) -> None:
    assert line_total(unit_price, quantity, discount) == expected


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((-1, 1_000, 0), InvalidAmountError),
        ((100, 0, 0), InvalidQuantityError),
        ((100, -5, 0), InvalidQuantityError),
        ((100, 1_000, -1), InvalidDiscountError),
        ((100, 1_000, 101), InvalidDiscountError),
    ],
)
def test_refuses_bad_input(args: tuple[int, int, int], error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        line_total(*args)
    assert "must" in str(info.value)


@given(st.integers(0, 1_000_000), st.integers(1, 50_000), st.integers(0, 100))
def test_matches_fraction_reference(unit_price: int, quantity: int, discount: int) -> None:
    gross = ref_round(Fraction(unit_price) * Fraction(quantity, 1000))
    expected = gross - ref_round(Fraction(gross * discount, 100))
    total = line_total(unit_price, quantity, discount)
    assert total == expected
    assert 0 <= total <= gross


def test_cart_line_carries_the_product() -> None:
    product = ProductView(
        id=uuid.UUID(int=7),
        sku="QSO-1",
        name="Queso Mantecoso",
        price=8_990,
        tax_class="cl_iva",
        weighable=True,
        unit="kg",
    )
    line = cart_line(3, product, 250, discount_percent=20)
    assert (line.line_id, line.product_id, line.sku, line.name, line.unit) == (
        3,
        uuid.UUID(int=7),
        "QSO-1",
        "Queso Mantecoso",
        "kg",
    )
    # 0.25 kg x 8,990 = 2,247.5 -> 2,248; 20 % = 449.6 -> 450; 2,248 - 450 = 1,798
    assert (line.quantity, line.unit_price, line.discount_percent, line.total) == (250, 8_990, 20, 1_798)
