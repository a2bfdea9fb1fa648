from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fiscal.cl.totals import (
    PRICE_SCALE,
    InvalidLineError,
    Line,
    boleta_totals,
    document_totals,
    factura_totals,
    from_gross_lines,
    iva_of_net,
    price_line,
)
from schema.money import round_half_up

lines_st = st.lists(
    st.builds(
        Line,
        quantity=st.integers(1, 50_000),
        unit_price=st.integers(0, 2_000_000),
        discount_percent=st.sampled_from([0, 0, 0, 5, 10, 33, 50, 100]),
        exempt=st.booleans(),
    ),
    min_size=1,
    max_size=12,
)


def test_line_amount_rounds_the_product_once_then_subtracts_the_discount() -> None:
    # 2.5 kg x $333 = 832.5 -> 833; 10 % of 833 = 83.3 -> 83; MontoItem 750
    line = price_line(Line(quantity=2500, unit_price=333, discount_percent=10))
    assert (line.subtotal, line.discount, line.amount) == (833, 83, 750)
    assert line.price == 333 * PRICE_SCALE
    # a discount in pesos
    assert price_line(Line(quantity=1000, unit_price=990, discount_amount=90)).amount == 900


def test_boleta_splits_a_gross_total_into_net_and_iva() -> None:
    _, totals = document_totals(39, [Line(1000, 1190), Line(1000, 500, exempt=True)])
    assert (totals.neto, totals.iva, totals.exento, totals.total) == (1000, 190, 500, 1690)
    # 1291 / 1.19 = 1084.87 -> 1085; IVA is the difference, never rounded on its own
    _, totals = document_totals(39, [Line(1000, 1190), Line(1000, 101)])
    assert (totals.neto, totals.iva, totals.total) == (1085, 206, 1291)


def test_factura_iva_is_19_percent_of_net_rounded_half_up() -> None:
    _, totals = document_totals(33, [Line(1000, 50)])  # 9.5 -> 10
    assert (totals.neto, totals.iva, totals.total) == (50, 10, 60)
    _, totals = document_totals(61, [Line(2000, 1258950)])  # the real sample's 2 x 1258950
    assert (totals.neto, totals.iva, totals.total) == (2517900, 478401, 2996301)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (Line(0, 100), "quantity"),
        (Line(1000, -1), "unit price"),
        (Line(1000, 100, discount_percent=101), "discount must be 0..100"),
        (Line(1000, 100, discount_percent=5, discount_amount=5), "not both"),
        (Line(1000, 100, discount_amount=101), "exceeds"),
    ],
)
def test_bad_lines_are_refused_with_a_clear_message(line: Line, message: str) -> None:
    with pytest.raises(InvalidLineError, match=message):
        price_line(line)


@given(lines_st)
def test_boleta_totals_add_up(lines: list[Line]) -> None:
    priced, totals = document_totals(39, lines)
    assert totals.neto + totals.iva + totals.exento == totals.total
    assert totals.total == sum(line.amount for line in priced)
    assert abs(totals.iva * 100 - totals.neto * 19) <= 100  # within a peso of 19 % of net
    assert totals.exento == sum(line.amount for line in priced if line.exempt)
    assert all(line.amount == line.subtotal - line.discount >= 0 for line in priced)


@given(lines_st)
def test_factura_totals_add_up(lines: list[Line]) -> None:
    _, totals = document_totals(33, lines)
    assert totals.neto + totals.iva + totals.exento == totals.total
    assert totals.iva == round_half_up(totals.neto * 19, 100)
    assert 2 * abs(totals.iva * 100 - totals.neto * 19) <= 100


@given(lines_st)
def test_factura_from_gross_lines_has_the_tills_total(lines: list[Line]) -> None:
    gross, _ = document_totals(39, lines)
    result = from_gross_lines(lines)
    totals = result.totals
    assert totals.total == sum(line.amount for line in gross)  # what the customer paid, to the peso
    assert totals.neto + totals.iva + totals.exento == totals.total
    assert totals.neto == sum(line.amount for line in result.lines if not line.exempt)
    assert totals.exento == sum(line.amount for line in result.lines if line.exempt)
    exact = iva_of_net(totals.neto)
    assert abs(totals.iva - exact) <= 1
    assert result.iva_adjusted == (totals.iva != exact)
    for line in result.lines:
        # the SII line rule holds on every derived line: round(PrcItem * QtyItem) - DescuentoMonto
        assert round_half_up(line.quantity * line.price, 1000 * PRICE_SCALE) - line.discount == line.amount
        if line.discount_percent:
            assert round_half_up(line.subtotal * line.discount_percent, 100) == line.discount
    assert [line.quantity for line in result.lines] == [line.quantity for line in lines]
    # the same net lines priced by the factura rule give the same totals (unless IVA had to be adjusted)
    if not result.iva_adjusted:
        assert factura_totals(result.lines) == totals


def test_gross_conversion_exact_and_adjusted_cases() -> None:
    exact = from_gross_lines([Line(1000, 1190)])
    assert (exact.totals.neto, exact.totals.iva, exact.iva_adjusted) == (1000, 190, False)
    # 16 has no net amount N with N + round(0.19 N) == 16 (13 + 2 = 15, 14 + 3 = 17): IVA takes the peso
    unreachable = 16
    result = from_gross_lines([Line(1000, unreachable)])
    assert (result.totals.neto, result.totals.iva, result.totals.total) == (13, 3, 16)
    assert result.iva_adjusted
    assert abs(result.totals.iva - iva_of_net(result.totals.neto)) == 1
    assert all(g + iva_of_net(g) != unreachable for g in range(unreachable + 1))


def test_boleta_totals_of_no_affected_lines() -> None:
    priced, totals = document_totals(39, [Line(1000, 700, exempt=True)])
    assert (totals.neto, totals.iva, totals.exento, totals.total) == (0, 0, 700, 700)
    assert boleta_totals(priced) == totals
