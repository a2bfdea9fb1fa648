"""Integer money helpers shared by every package (no floats where money or stock is computed)."""

from __future__ import annotations

# Average costs are minor units per unit scaled by COST_SCALE; quantities are thousandths of the unit.
COST_SCALE = 10_000
QUANTITY_SCALE = 1000


def round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, halves away from zero."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(abs(numerator), denominator)
    if remainder * 2 >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def stock_value(quantity: int, avg_cost: int) -> int:
    """What ``quantity`` (thousandths) is worth at ``avg_cost`` (scaled), in minor units."""
    return round_half_up(quantity * avg_cost, QUANTITY_SCALE * COST_SCALE)
