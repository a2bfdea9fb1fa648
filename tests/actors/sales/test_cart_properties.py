"""Whole-sale properties: random carts of one country, random tenders, against Fraction references."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.sales.errors import CardExceedsTotalError, InsufficientTenderError
from actors.sales.lines import cart_line
from actors.sales.settlement import settle
from actors.sales.taxes import TAX_RATES
from actors.sales.totals import cart_totals
from schema.messages.catalog import ProductView
from schema.messages.till import CartLine, Tender
from tests.actors.sales.reference import ref_cash_round, ref_round

COUNTRIES = {
    "CLP": ["cl_iva", "cl_exempt"],
    "USD": ["ec_iva15", "ec_iva5", "ec_iva0", "ec_exempt"],
}


@dataclass(frozen=True)
class Cart:
    currency: str
    lines: list[tuple[CartLine, str]]


@st.composite
def carts(draw: st.DrawFn) -> Cart:
    currency = draw(st.sampled_from(sorted(COUNTRIES)))
    count = draw(st.integers(1, 30))
    lines = []
    for n in range(count):
        tax_class = draw(st.sampled_from(COUNTRIES[currency]))
        product = ProductView(
            id=uuid.UUID(int=n + 1),
            sku=f"P{n}",
            name=f"Producto {n}",
            price=draw(st.integers(0, 1_000_000)),
            tax_class=tax_class,
            weighable=False,
            unit="unit",
        )
        line = cart_line(n + 1, product, draw(st.integers(1, 50_000)), draw(st.integers(0, 100)))
        lines.append((line, tax_class))
    return Cart(currency, lines)


def ref_line_total(line: CartLine) -> int:
    gross = ref_round(Fraction(line.unit_price * line.quantity) / 1000)
    return gross - ref_round(Fraction(gross * line.discount_percent) / 100)


@given(carts())
def test_totals_and_taxes(cart: Cart) -> None:
    totals = cart_totals(cart.lines)
    assert all(line.total == ref_line_total(line) for line, _ in cart.lines)
    assert totals.total == sum(line.total for line, _ in cart.lines)

    assert [t.tax_class for t in totals.taxes] == sorted({tax_class for _, tax_class in cart.lines})
    assert sum(t.gross for t in totals.taxes) == totals.total
    for tax in totals.taxes:
        assert tax.gross == sum(line.total for line, c in cart.lines if c == tax.tax_class)
        assert tax.rate_percent == TAX_RATES[tax.tax_class]
        assert tax.net + tax.tax == tax.gross
        assert tax.net == ref_round(Fraction(tax.gross) / (1 + Fraction(tax.rate_percent, 100)))
        assert 0 <= tax.tax <= tax.gross


@st.composite
def tenders_for(draw: st.DrawFn, total: int) -> list[Tender]:
    """Up to 4 tenders, each a share of the total give or take a few pesos: around exact coverage."""
    tenders = []
    for _ in range(draw(st.integers(0, 4))):
        share = total * draw(st.integers(0, 120)) // 100
        amount = max(0, share + draw(st.integers(-12, 12)))
        tenders.append(Tender(kind=draw(st.sampled_from(["cash", "card"])), amount=amount))
    return tenders


@given(carts(), st.data())
def test_settlement_of_random_tenders(cart: Cart, data: st.DataObject) -> None:
    total = cart_totals(cart.lines).total
    tenders = data.draw(tenders_for(total))
    cards = sum(t.amount for t in tenders if t.kind == "card")
    handed = sum(t.amount for t in tenders if t.kind == "cash")
    has_cash = any(t.kind == "cash" for t in tenders)
    rounds = cart.currency == "CLP" and has_cash
    expected_due = ref_cash_round(total - cards) if rounds and cards <= total else total - cards
    if cards > total:
        with pytest.raises(CardExceedsTotalError):
            settle(total, tenders, cart.currency)
        return
    if handed < expected_due:
        with pytest.raises(InsufficientTenderError) as info:
            settle(total, tenders, cart.currency)
        assert info.value.details["missing"] == expected_due - handed
        return
    s = settle(total, tenders, cart.currency)
    assert cards <= total  # card never exceeds the total
    assert s.cash_due == expected_due
    assert s.to_pay == total + s.rounding == cards + s.cash_due
    assert sum(t.amount for t in tenders) >= s.to_pay  # never accepts tenders that do not cover it
    assert s.change == handed - s.cash_due >= 0
    assert sum(v.amount for v in s.tenders) == s.to_pay
    assert sum(v.change for v in s.tenders) == s.change
    assert all(v.amount + v.change == v.tendered and v.change >= 0 for v in s.tenders)
    assert [(v.kind, v.tendered) for v in s.tenders] == [(t.kind, t.amount) for t in tenders]
    if cart.currency == "USD" or not has_cash:
        assert s.rounding == 0
    else:
        assert s.to_pay % 10 == cards % 10
        assert -5 <= s.rounding <= 4


@given(carts(), st.integers(0, 100), st.integers(1, 10_000))
def test_short_tenders_are_refused(cart: Cart, card_percent: int, short: int) -> None:
    total = cart_totals(cart.lines).total
    card_part = total * card_percent // 100
    exact = total - card_part
    cash_due = ref_cash_round(exact) if cart.currency == "CLP" else exact
    if cash_due == 0:
        return  # nothing to be short of
    handed = max(0, cash_due - short)
    tenders = [Tender(kind="card", amount=card_part), Tender(kind="cash", amount=handed)]
    with pytest.raises(InsufficientTenderError) as info:
        settle(total, tenders, cart.currency)
    assert info.value.details["missing"] == cash_due - handed
