"""Weighted average cost (PPP, costo promedio ponderado) of one product in one warehouse.

State: ``quantity`` in thousandths of the unit, ``avg_cost`` in minor units per unit scaled by
``COST_SCALE`` (4 decimals: 1,234.5678 pesos per kg is 12_345_678), because an average of integer costs is
rarely an integer and rounding it to the peso would drift the stock value a little on every receipt.

Rules (rounding half away from zero, at exactly these points and nowhere else):

* receipt of ``q`` at ``unit_cost`` (minor units per unit)::

      if quantity <= 0:  avg' = unit_cost * COST_SCALE        # no stock (or a debt of stock) has no value
      else:              avg' = round_half_up(quantity * avg + q * unit_cost * COST_SCALE, quantity + q)
      quantity' = quantity + q

  When stock is negative (sold before it was received), the units sold short were already costed at the
  old average when they left; the receipt settles them, so the new average is the receipt's own cost.
* issue (sale, waste) of ``q``: the average does not change, ``quantity' = quantity - q`` (it may go
  negative: whether that is allowed is the caller's policy), and the cost of goods is
  ``round_half_up(q * avg, 1000 * COST_SCALE)``, rounded per issue so each sale line carries a whole cost.
* return of ``q`` that left at ``unit_cost_scaled``: a receipt at that scaled cost, so the goods come back
  valued as they left.
* ``value = round_half_up(quantity * avg, 1000 * COST_SCALE)``, negative for a negative stock.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.sales.errors import InvalidAmountError, InvalidQuantityError
from schema.money import COST_SCALE, QUANTITY_SCALE, round_half_up


@dataclass(frozen=True, slots=True)
class StockState:
    quantity: int = 0  # thousandths of the unit; negative when more left than came in
    avg_cost: int = 0  # minor units per unit, scaled by COST_SCALE


def _positive_quantity(quantity: int) -> None:
    if quantity <= 0:
        raise InvalidQuantityError(
            f"a stock movement quantity must be positive (thousandths of the unit), got {quantity}",
            quantity=quantity,
        )


def _receive_scaled(state: StockState, quantity: int, cost_scaled: int) -> StockState:
    _positive_quantity(quantity)
    if cost_scaled < 0:
        raise InvalidAmountError(f"a unit cost must not be negative, got {cost_scaled}", cost=cost_scaled)
    if state.quantity <= 0:
        average = cost_scaled
    else:
        average = round_half_up(
            state.quantity * state.avg_cost + quantity * cost_scaled, state.quantity + quantity
        )
    return StockState(quantity=state.quantity + quantity, avg_cost=average)


def receive(state: StockState, quantity: int, unit_cost: int) -> StockState:
    """Stock after receiving ``quantity`` thousandths at ``unit_cost`` minor units per unit."""
    return _receive_scaled(state, quantity, unit_cost * COST_SCALE)


def returned(state: StockState, quantity: int, unit_cost_scaled: int) -> StockState:
    """Stock after ``quantity`` comes back at the scaled average cost it left with (a customer return)."""
    return _receive_scaled(state, quantity, unit_cost_scaled)


def issue(state: StockState, quantity: int) -> tuple[StockState, int]:
    """Stock after ``quantity`` leaves, and the cost of those goods in minor units."""
    _positive_quantity(quantity)
    cost = round_half_up(quantity * state.avg_cost, QUANTITY_SCALE * COST_SCALE)
    return StockState(quantity=state.quantity - quantity, avg_cost=state.avg_cost), cost


def value(state: StockState) -> int:
    """The stock's value in minor units at its average cost."""
    return round_half_up(state.quantity * state.avg_cost, QUANTITY_SCALE * COST_SCALE)
