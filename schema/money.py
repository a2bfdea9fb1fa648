"""Integer money helpers shared by every package (no floats where money or stock is computed)."""

from __future__ import annotations

# Average costs are minor units per unit scaled by COST_SCALE; quantities are thousandths of the unit.
COST_SCALE = 10_000
QUANTITY_SCALE = 1000


def round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, ties away from zero.

    The one rounding rule of every money and stock figure (a line's gross, a discount, a net amount, an
    average cost): exact integers, never ``float`` or ``Decimal`` contexts, so the result is the same on
    every machine and ties go away from zero, as Chilean and Ecuadorian documents round. A negative
    denominator is allowed (the sign of the fraction is what counts); zero raises ``ZeroDivisionError``.
    """
    if denominator == 0:
        raise ZeroDivisionError("round_half_up: denominator is zero")
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def stock_value(quantity: int, avg_cost: int) -> int:
    """What ``quantity`` (thousandths) is worth at ``avg_cost`` (scaled), in minor units."""
    return round_half_up(quantity * avg_cost, QUANTITY_SCALE * COST_SCALE)
