from __future__ import annotations

import pytest

from actors.sales.errors import (
    CardExceedsTotalError,
    InsufficientTenderError,
    InvalidAmountError,
    InvalidTenderError,
    UnsupportedCurrencyError,
)
from actors.sales.settlement import settle
from schema.messages.till import Tender, TenderView


def cash(amount: int) -> Tender:
    return Tender(kind="cash", amount=amount)


def card(amount: int) -> Tender:
    return Tender(kind="card", amount=amount)


def test_mixed_payment() -> None:
    # 10,000 total: 4,000 by card, customer hands 10,000 cash for the 6,000 left.
    s = settle(10_000, [card(4_000), cash(10_000)], "CLP")
    assert (s.total, s.cash_due, s.rounding, s.to_pay, s.change) == (10_000, 6_000, 0, 10_000, 4_000)
    assert s.tenders == [
        TenderView(kind="card", amount=4_000, tendered=4_000, change=0),
        TenderView(kind="cash", amount=6_000, tendered=10_000, change=4_000),
    ]


def test_clp_cash_sale_rounds_down() -> None:
    s = settle(1_234, [cash(2_000)], "CLP")
    assert (s.cash_due, s.rounding, s.to_pay, s.change) == (1_230, -4, 1_230, 770)
    assert s.tenders == [TenderView(kind="cash", amount=1_230, tendered=2_000, change=770)]


def test_clp_cash_sale_rounds_up() -> None:
    s = settle(1_236, [cash(1_240)], "CLP")
    assert (s.rounding, s.to_pay, s.change) == (4, 1_240, 0)


def test_clp_cash_exact_amount_below_rounded_due_is_short() -> None:
    with pytest.raises(InsufficientTenderError) as info:
        settle(1_236, [cash(1_236)], "CLP")
    assert info.value.code == "insufficient_tender"
    assert info.value.details["missing"] == 4
    assert info.value.details["to_pay"] == 1_240


def test_card_pays_exact_without_rounding() -> None:
    s = settle(1_234, [card(1_234)], "CLP")
    assert (s.cash_due, s.rounding, s.to_pay, s.change) == (0, 0, 1_234, 0)


def test_only_the_cash_part_is_rounded() -> None:
    # 1,234 total, 1,000 by card: the cash part 234 rounds to 230.
    s = settle(1_234, [card(1_000), cash(500)], "CLP")
    assert (s.cash_due, s.rounding, s.to_pay, s.change) == (230, -4, 1_230, 270)


def test_card_short_without_cash_is_not_rounded_away() -> None:
    # No cash tender means no cash part to round: the last 4 pesos are still owed.
    with pytest.raises(InsufficientTenderError) as info:
        settle(1_234, [card(1_230)], "CLP")
    assert info.value.details["missing"] == 4


def test_tiny_cash_part_rounds_to_zero() -> None:
    # A cash part of 4 pesos is 0 in coins (Ley 20.956), so a cash tender of 0 settles it.
    s = settle(1_234, [card(1_230), cash(0)], "CLP")
    assert (s.cash_due, s.rounding, s.to_pay, s.change) == (0, -4, 1_230, 0)


def test_usd_never_rounds() -> None:
    s = settle(1_234, [cash(2_000)], "USD")
    assert (s.cash_due, s.rounding, s.to_pay, s.change) == (1_234, 0, 1_234, 766)
    with pytest.raises(InsufficientTenderError) as info:
        settle(1_236, [cash(1_235)], "USD")
    assert info.value.details["missing"] == 1


def test_card_exceeds_total() -> None:
    with pytest.raises(CardExceedsTotalError) as info:
        settle(1_000, [card(600), card(500)], "CLP")
    assert info.value.code == "card_exceeds_total"
    assert info.value.details == {"total": 1_000, "card": 1_100, "excess": 100}


def test_card_may_equal_but_not_pass_the_total() -> None:
    assert settle(1_000, [card(1_000)], "CLP").to_pay == 1_000
    with pytest.raises(CardExceedsTotalError) as info:
        settle(1_000, [card(1_001), cash(0)], "CLP")
    assert info.value.details["excess"] == 1


def test_insufficient_cash() -> None:
    with pytest.raises(InsufficientTenderError) as info:
        settle(10_000, [card(4_000), cash(5_000)], "CLP")
    assert info.value.details == {
        "missing": 1_000,
        "to_pay": 10_000,
        "cash_due": 6_000,
        "cash_tendered": 5_000,
    }


def test_several_cash_tenders_apply_in_order() -> None:
    s = settle(6_000, [cash(5_000), cash(5_000)], "CLP")
    assert s.change == 4_000
    assert s.tenders == [
        TenderView(kind="cash", amount=5_000, tendered=5_000, change=0),
        TenderView(kind="cash", amount=1_000, tendered=5_000, change=4_000),
    ]


def test_cash_when_card_covers_everything_is_all_change() -> None:
    s = settle(1_000, [card(1_000), cash(2_000)], "CLP")
    assert (s.cash_due, s.to_pay, s.change) == (0, 1_000, 2_000)
    assert s.tenders[1] == TenderView(kind="cash", amount=0, tendered=2_000, change=2_000)


@pytest.mark.parametrize("tenders", [[], [cash(0)], [card(0)]])
def test_zero_total(tenders: list[Tender]) -> None:
    s = settle(0, tenders, "CLP")
    assert (s.to_pay, s.rounding, s.change) == (0, 0, 0)


def test_zero_total_with_cash_gives_it_back() -> None:
    assert settle(0, [cash(1_000)], "CLP").change == 1_000


def test_no_tenders_for_a_positive_total() -> None:
    with pytest.raises(InsufficientTenderError) as info:
        settle(500, [], "CLP")
    assert info.value.details["missing"] == 500


def test_bad_inputs() -> None:
    with pytest.raises(UnsupportedCurrencyError) as currency:
        settle(100, [cash(100)], "EUR")
    assert currency.value.code == "unsupported_currency"
    with pytest.raises(InvalidAmountError):
        settle(-1, [cash(100)], "CLP")
    with pytest.raises(InvalidTenderError):
        settle(100, [cash(-100)], "CLP")


# -- tips (propina): paid on top by the tenders, never in total or to_pay -----------------------------------


def test_a_tip_paid_in_cash_is_applied_to_the_cash_tender() -> None:
    s = settle(10_000, [cash(20_000)], "CLP", tip=1_000)
    assert (s.total, s.to_pay, s.tip, s.cash_due, s.change) == (10_000, 10_000, 1_000, 11_000, 9_000)
    assert s.tenders == [TenderView(kind="cash", amount=11_000, tendered=20_000, change=9_000)]
    assert sum(t.amount for t in s.tenders) == s.to_pay + s.tip


def test_a_tip_paid_by_card_lets_the_card_exceed_the_total_by_the_tip_only() -> None:
    s = settle(10_000, [card(11_000)], "CLP", tip=1_000)
    assert (s.to_pay, s.tip, s.cash_due, s.change) == (10_000, 1_000, 0, 0)
    with pytest.raises(CardExceedsTotalError) as info:
        settle(10_000, [card(11_001)], "CLP", tip=1_000)
    assert info.value.details == {"total": 10_000, "card": 11_001, "excess": 1, "tip": 1_000}


def test_cash_rounding_applies_to_the_cash_part_with_the_tip() -> None:
    # 1,234 + tip 123 = 1,357 in cash: rounded to 1,360; the rounding stays in to_pay, the tip stays apart.
    s = settle(1_234, [cash(2_000)], "CLP", tip=123)
    assert (s.cash_due, s.rounding, s.to_pay, s.tip, s.change) == (1_360, 3, 1_237, 123, 640)
    assert sum(t.amount for t in s.tenders) == s.to_pay + s.tip


def test_tenders_must_cover_the_tip() -> None:
    with pytest.raises(InsufficientTenderError) as info:
        settle(10_000, [cash(10_000)], "CLP", tip=1_000)
    assert info.value.details["missing"] == 1_000
    assert info.value.details["tip"] == 1_000
    with pytest.raises(InvalidAmountError):
        settle(10_000, [cash(20_000)], "CLP", tip=-1)
