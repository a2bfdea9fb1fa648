"""Settling a sale: how the tenders pay the total, the cash rounding, and the change.

Rules, in order:

1. Card tenders are applied first and exactly; they never give change, so together they may not exceed
   the total (``card_exceeds_total``).
2. The rest, ``total - cards``, is due in cash. In CLP, when the customer pays a cash part (any cash
   tender), that part is rounded with Ley 20.956 (:func:`round_cash_clp`): ``rounding = rounded - due``
   and ``to_pay = total + rounding``. Without a cash tender nothing is rounded (cards pay exact), and USD
   is never rounded (cents circulate).
3. The cash handed over must cover the (rounded) cash due, else ``insufficient_tender`` with the missing
   amount in ``details``. ``change = cash handed - cash due``, never negative. Cash handed when nothing is
   due in cash is allowed: all of it is change.
4. A sale of 0 (fully discounted) needs no money: a single tender of 0 settles it.

A tip (propina, restaurant tabs) is paid on top of the total by the same tenders: the card part may cover
``total + tip``, the cash due is ``total + tip - cards`` (rounded as above), and the rounding still adjusts
``to_pay = total + rounding``; the tip never enters ``total`` or ``to_pay`` (nor the taxes: it is not part
of the sale's taxable base), it only travels in the tenders, so a tip paid in cash is expected in the drawer.

Each :class:`TenderView` (in the order the tenders were given) states what it paid of the sale
(``amount``), what was handed over (``tendered``) and what went back (``change``). Cash tenders are
applied in order until the cash due is paid; whatever a cash tender hands over beyond that is its change.
So ``sum(amount) == to_pay + tip``, ``sum(change) == change`` and ``amount + change == tendered`` per view.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from actors.sales.cash_rounding import round_cash_clp
from actors.sales.errors import (
    CardExceedsTotalError,
    InsufficientTenderError,
    InvalidAmountError,
    InvalidTenderError,
    UnsupportedCurrencyError,
)
from schema.messages.till import Tender, TenderView

# How each currency rounds the cash part of a payment (None: exact, the smallest coin circulates).
CASH_ROUNDING: Final[Mapping[str, Callable[[int], int] | None]] = MappingProxyType(
    {"CLP": round_cash_clp, "USD": None}
)


@dataclass(frozen=True, slots=True)
class Settlement:
    total: int  # the sale total (sum of lines)
    cash_due: int  # what the cash tenders pay of the sale (and tip), after rounding
    rounding: int  # Ley 20.956 adjustment of the cash part: to_pay - total (0 outside CLP cash)
    to_pay: int  # total + rounding; to_pay + tip = cards + cash_due
    tenders: list[TenderView]
    change: int  # cash handed back, >= 0
    tip: int = 0  # paid on top of to_pay by the tenders: sum(amount) == to_pay + tip


def settle(total: int, tenders: Sequence[Tender], currency: str, *, tip: int = 0) -> Settlement:
    """Apply ``tenders`` to a sale of ``total`` minor units in ``currency``, plus ``tip`` on top (rules:
    module docstring)."""
    if total < 0:
        raise InvalidAmountError(f"a sale total must not be negative, got {total}", total=total)
    if tip < 0:
        raise InvalidAmountError(f"a tip must not be negative, got {tip}", tip=tip)
    if currency not in CASH_ROUNDING:
        known = ", ".join(sorted(CASH_ROUNDING))
        raise UnsupportedCurrencyError(
            f"unsupported currency {currency!r} (known: {known})", currency=currency
        )
    for tender in tenders:
        if tender.kind not in ("cash", "card"):
            raise InvalidTenderError(f"unknown tender kind {tender.kind!r}", kind=tender.kind)
        if tender.amount < 0:
            raise InvalidTenderError(
                f"a tender amount must not be negative, got {tender.amount}", amount=tender.amount
            )

    card = sum(t.amount for t in tenders if t.kind == "card")
    if card > total + tip:
        due = total + tip
        raise CardExceedsTotalError(
            f"card payments ({card}) exceed the amount due ({due}) by {card - due}; cards pay exactly",
            total=total,
            card=card,
            excess=card - due,
            **({"tip": tip} if tip else {}),
        )
    cash_tenders = [t for t in tenders if t.kind == "cash"]
    exact_due = total + tip - card
    round_cash = CASH_ROUNDING[currency]
    cash_due = round_cash(exact_due) if cash_tenders and round_cash is not None else exact_due
    rounding = cash_due - exact_due
    to_pay = total + rounding
    handed = sum(t.amount for t in cash_tenders)
    if handed < cash_due:
        missing = cash_due - handed
        raise InsufficientTenderError(
            f"the tenders do not cover the amount to pay ({to_pay + tip}): {missing} missing",
            missing=missing,
            to_pay=to_pay,
            cash_due=cash_due,
            cash_tendered=handed,
            **({"tip": tip} if tip else {}),
        )

    views = []
    unpaid = cash_due
    for tender in tenders:
        if tender.kind == "card":
            views.append(TenderView(kind="card", amount=tender.amount, tendered=tender.amount))
            continue
        applied = min(tender.amount, unpaid)
        unpaid -= applied
        views.append(
            TenderView(kind="cash", amount=applied, tendered=tender.amount, change=tender.amount - applied)
        )
    return Settlement(
        total=total,
        cash_due=cash_due,
        rounding=rounding,
        to_pay=to_pay,
        tenders=views,
        change=handed - cash_due,
        tip=tip,
    )
