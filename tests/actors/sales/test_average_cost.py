from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.sales.average_cost import COST_SCALE, StockState, issue, receive, returned, value
from actors.sales.errors import InvalidAmountError, InvalidQuantityError
from tests.actors.sales.reference import ref_round, ref_round_to


def test_receipts_average_and_issue_costs() -> None:
    state = receive(StockState(), 10_000, 1_000)  # 10 units at $1,000
    assert state == StockState(quantity=10_000, avg_cost=10_000_000)
    state = receive(state, 5_000, 1_300)  # 5 more at $1,300: (10,000 + 6,500) / 15 = 1,100
    assert state == StockState(quantity=15_000, avg_cost=11_000_000)
    state, cost = issue(state, 3_000)  # 3 units leave at 1,100
    assert (state, cost) == (StockState(quantity=12_000, avg_cost=11_000_000), 3_300)
    assert value(state) == 13_200


def test_average_keeps_four_decimals_rounded_half_up() -> None:
    state = receive(receive(StockState(), 1_000, 100), 2_000, 101)  # (100 + 202) / 3 = 100.66666...
    assert state.avg_cost == 1_006_667  # 100.6667
    state, cost = issue(state, 3_000)  # 3 x 100.6667 = 302.0001 -> 302
    assert cost == 302


def test_weighed_issue_cost() -> None:
    # 1.235 kg at an average of $2,990.50/kg = 3,693.2675 -> 3,693
    state = StockState(quantity=10_000, avg_cost=29_905_000)
    assert issue(state, 1_235) == (StockState(quantity=8_765, avg_cost=29_905_000), 3_693)


def test_negative_stock_takes_the_receipt_cost() -> None:
    state, cost = issue(receive(StockState(), 1_000, 700), 3_000)  # sold 3, had 1
    assert (state, cost) == (StockState(quantity=-2_000, avg_cost=7_000_000), 2_100)
    assert value(state) == -1_400
    state = receive(state, 5_000, 500)
    assert state == StockState(quantity=3_000, avg_cost=5_000_000)  # not blended with the debt


def test_zero_stock_takes_the_receipt_cost() -> None:
    state, _ = issue(receive(StockState(), 2_000, 900), 2_000)
    assert receive(state, 1_000, 1_200) == StockState(quantity=1_000, avg_cost=12_000_000)


def test_return_comes_back_at_the_cost_it_left_with() -> None:
    state = StockState(quantity=1_000, avg_cost=1_006_667)
    # (1 x 100.6667 + 1 x 100.0000) / 2 = 100.33335 -> 100.3334
    assert returned(state, 1_000, 1_000_000) == StockState(quantity=2_000, avg_cost=1_003_334)
    assert returned(StockState(quantity=-500, avg_cost=1), 1_000, 1_234_567) == StockState(
        quantity=500, avg_cost=1_234_567
    )


def test_bad_inputs() -> None:
    with pytest.raises(InvalidQuantityError):
        receive(StockState(), 0, 100)
    with pytest.raises(InvalidQuantityError):
        issue(StockState(), -1)
    with pytest.raises(InvalidAmountError):
        receive(StockState(), 1_000, -1)
    with pytest.raises(InvalidAmountError):
        returned(StockState(), 1_000, -1)


@dataclass
class RefStock:
    """Quantities in units, costs in pesos per unit, as an accountant would write them."""

    units: Fraction = Fraction(0)
    average: Fraction = Fraction(0)

    def receive(self, units: Fraction, cost: Fraction) -> None:
        if self.units > 0:
            blended = (self.units * self.average + units * cost) / (self.units + units)
        else:
            blended = cost
        self.average = ref_round_to(blended, Fraction(1, COST_SCALE))
        self.units += units

    def issue(self, units: Fraction) -> int:
        self.units -= units
        return ref_round(units * self.average)

    def value(self) -> int:
        return ref_round(self.units * self.average)


moves = st.lists(
    st.one_of(
        st.tuples(st.just("receive"), st.integers(1, 50_000), st.integers(0, 1_000_000)),
        st.tuples(st.just("issue"), st.integers(1, 50_000), st.just(0)),
        st.tuples(st.just("return"), st.integers(1, 5_000), st.integers(0, 10**10)),
    ),
    min_size=1,
    max_size=40,
)


@given(moves)
def test_matches_fraction_reference(steps: list[tuple[str, int, int]]) -> None:
    state, ref = StockState(), RefStock()
    for kind, thousandths, cost in steps:
        units = Fraction(thousandths, 1000)
        if kind == "receive":
            state = receive(state, thousandths, cost)
            ref.receive(units, Fraction(cost))
        elif kind == "return":
            state = returned(state, thousandths, cost)
            ref.receive(units, Fraction(cost, COST_SCALE))
        else:
            state, cogs = issue(state, thousandths)
            assert cogs == ref.issue(units)
        assert state.quantity == ref.units * 1000
        assert state.avg_cost == ref.average * COST_SCALE
        assert value(state) == ref.value()
