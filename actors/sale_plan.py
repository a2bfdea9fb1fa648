"""What a sale will write, computed before anything is written: its context, its priced lines and the
stock plan (quantities and weighted-average costs after it, the cost of goods per line, low-stock events).

Shared by the portable checkout (``actors.checkout``) and the Postgres one (``actors.checkout_pg``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

from actors.sales.average_cost import StockState, issue
from schema.errors import ConflictError
from schema.messages.till import CartLine, TaxLine


class OutOfStockError(ConflictError):
    """Not enough stock, and the tenant's policy blocks selling below zero."""

    code = "out_of_stock"


@dataclass(frozen=True, slots=True)
class SaleContext:
    tenant_id: uuid.UUID
    register_id: uuid.UUID
    store_id: uuid.UUID
    warehouse_id: uuid.UUID
    cash_session_id: uuid.UUID
    user_id: uuid.UUID | None
    block_negative_stock: bool


@dataclass(frozen=True, slots=True)
class PricedLine:
    line: CartLine
    tax_class: str


@dataclass(frozen=True, slots=True)
class ProductFacts:
    """What a checkout needs of a product besides its cart line: its stock row and its minimum."""

    quantity: int
    avg_cost: int
    sku: str
    name: str
    min_stock: int


@dataclass(slots=True)
class StockPlan:
    """Every stock change of one sale, computed before anything is written."""

    product_ids: list[uuid.UUID]
    quantities: list[int]  # per product: the level after the sale
    avg_costs: list[int]
    issued: list[int]  # per product: thousandths leaving the warehouse
    costs: list[int]  # per product: cost of goods at PPP
    line_costs: dict[int, int]  # per cart line id
    low_stock: list[dict[str, object]]  # LowStock event payloads


def plan_stock(ctx: SaleContext, lines: list[PricedLine], facts: dict[uuid.UUID, ProductFacts]) -> StockPlan:
    """Issue every line's quantity from the register's warehouse at its average cost (PPP); refuses a sale
    that would go below zero when the tenant blocks negative stock."""
    wanted: dict[uuid.UUID, int] = defaultdict(int)
    for priced in lines:
        wanted[priced.line.product_id] += priced.line.quantity
    plan = StockPlan(sorted(wanted), [], [], [], [], {}, [])
    product_costs: dict[uuid.UUID, int] = {}
    for product_id in plan.product_ids:
        fact = facts[product_id]
        state, cost = issue(StockState(quantity=fact.quantity, avg_cost=fact.avg_cost), wanted[product_id])
        if ctx.block_negative_stock and state.quantity < 0:
            raise OutOfStockError(
                f"not enough stock of {fact.name}: {fact.quantity / 1000:g} left",
                product_id=str(product_id),
                available=fact.quantity,
                wanted=wanted[product_id],
            )
        product_costs[product_id] = cost
        plan.quantities.append(state.quantity)
        plan.avg_costs.append(state.avg_cost)
        plan.issued.append(wanted[product_id])
        plan.costs.append(cost)
        if fact.quantity >= fact.min_stock > state.quantity:
            plan.low_stock.append(
                {"product_id": str(product_id), "sku": fact.sku, "name": fact.name,
                 "warehouse_id": str(ctx.warehouse_id), "quantity": state.quantity,
                 "min_stock": fact.min_stock}
            )  # fmt: skip
    plan.line_costs = _split_costs(lines, product_costs, wanted)
    return plan


def _split_costs(
    lines: list[PricedLine], product_costs: dict[uuid.UUID, int], wanted: dict[uuid.UUID, int]
) -> dict[int, int]:
    """Each product's cost of goods over its lines, in proportion to quantity, exact in total."""
    costs: dict[int, int] = {}
    remaining = dict(product_costs)
    left = dict(wanted)
    for priced in lines:
        pid, qty = priced.line.product_id, priced.line.quantity
        share = remaining[pid] if qty == left[pid] else remaining[pid] * qty // left[pid]
        costs[priced.line.line_id] = share
        remaining[pid] -= share
        left[pid] -= qty
    return costs


def tax_dict(tax: TaxLine) -> dict[str, int | str]:
    return {
        "tax_class": tax.tax_class,
        "rate_percent": tax.rate_percent,
        "gross": tax.gross,
        "net": tax.net,
        "tax": tax.tax,
    }
