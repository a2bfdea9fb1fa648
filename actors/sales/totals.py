"""A cart's total and tax breakdown, from its priced lines.

The total is the plain sum of the line totals (each already rounded to a minor unit by
:mod:`actors.sales.lines`), and the breakdown is :func:`actors.sales.taxes.tax_breakdown` of the same
lines, so ``sum(tax.gross) == total`` by construction: the receipt, the fiscal document and the payment
all start from one number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from actors.sales.taxes import tax_breakdown
from schema.messages.till import CartLine, TaxLine


@dataclass(frozen=True, slots=True)
class CartTotals:
    total: int
    taxes: list[TaxLine]


def cart_totals(lines: Iterable[tuple[CartLine, str]]) -> CartTotals:
    """Total and taxes of ``(line, tax_class)`` pairs (the tax class is the product's)."""
    pairs = [(tax_class, line.total) for line, tax_class in lines]
    taxes = tax_breakdown(pairs)
    return CartTotals(total=sum(total for _, total in pairs), taxes=taxes)
