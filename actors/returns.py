"""Returns and voids: a credit note (61) that gives back some or all of a completed sale, in ONE transaction.

The original sale is never touched. The credit note is a ``sales`` row of kind ``return`` with negated
amounts and quantities, the reason and the approving manager; the goods go back to stock at the cost they
left with; the money goes back through the chosen tender (cash leaves the drawer, rounded by Ley 20.956 in
CLP); a folio of type 61 and a pending fiscal document follow. A line can never be returned beyond what
was sold less what earlier credit notes already gave back: the original sale's row is locked while that
is checked, so two returns of the same sale take turns.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from actors.checkout import SaleContext, claim_command, next_folio, next_number, tax_dict
from actors.sales.average_cost import StockState, returned
from actors.sales.cash_rounding import round_cash_clp
from actors.sales.taxes import tax_breakdown
from actors.stock import lock_levels
from hub.db import Database
from hub.events.outbox import emit
from schema.errors import NotFoundError, ValidationError
from schema.ids import uuid7
from schema.messages.till import CartLine, SaleReceipt, TaxLine, TenderView
from schema.models import FiscalDocument, Sale, SaleLine, SaleTender, StockLevel, StockMovement
from schema.money import COST_SCALE, QUANTITY_SCALE, round_half_up

CREDIT_NOTE = 61


class OverReturnError(ValidationError):
    """More would come back than was sold (less what earlier credit notes returned)."""

    code = "over_return"


class NotReturnableError(ValidationError):
    """This document cannot be returned (it is itself a credit note, or nothing is left to return)."""

    code = "not_returnable"


def _negate_tax(tax: TaxLine) -> TaxLine:
    return TaxLine(
        tax_class=tax.tax_class, rate_percent=tax.rate_percent, gross=-tax.gross, net=-tax.net, tax=-tax.tax
    )


async def commit_return(
    db: Database,
    ctx: SaleContext,
    command_id: str,
    sale_id: uuid.UUID,
    wanted: dict[int, int] | None,
    reason: str,
    refund: str,
    approved_by: uuid.UUID,
    currency: str,
) -> SaleReceipt:
    async with db.tenant(ctx.tenant_id) as session:
        made = await claim_command(session, ctx.register_id, command_id)
        if made is not None:
            return made
        original = (
            await session.execute(select(Sale).where(Sale.id == sale_id).with_for_update())
        ).scalar_one_or_none()
        if original is None or original.store_id != ctx.store_id:  # as sale.lookup: this store's sales only
            raise NotFoundError("sale not found", sale_id=str(sale_id))
        if original.kind != "sale":
            raise NotReturnableError("a credit note cannot itself be returned")
        sold = {
            line.line_no: line
            for line in (await session.execute(select(SaleLine).where(SaleLine.sale_id == sale_id))).scalars()
        }
        already: dict[int, int] = defaultdict(int)
        for line_no, quantity in await session.execute(
            select(SaleLine.line_no, func.sum(SaleLine.quantity))
            .join(Sale, (Sale.id == SaleLine.sale_id) & (Sale.tenant_id == SaleLine.tenant_id))
            .where(Sale.original_sale_id == sale_id)
            .group_by(SaleLine.line_no)
        ):
            already[line_no] = -int(quantity)
        left = {no: line.quantity - already[no] for no, line in sold.items()}
        if wanted is None:  # a void: everything still left
            wanted = {no: qty for no, qty in left.items() if qty > 0}
            if not wanted:
                raise NotReturnableError("everything on this sale was already returned")
        for line_no, quantity in wanted.items():
            if line_no not in sold:
                raise NotFoundError("no such line on the sale", line_no=line_no)
            if quantity > left[line_no]:
                raise OverReturnError(
                    f"line {line_no} has {left[line_no] / 1000:g} left to return",
                    line_no=line_no,
                    left=left[line_no],
                    wanted=quantity,
                )
        lines: list[tuple[SaleLine, int, int]] = []
        costs: dict[int, int] = {}
        for line_no in sorted(wanted):
            line, quantity = sold[line_no], wanted[line_no]
            amount = round_half_up(line.total * quantity, line.quantity)
            costs[line_no] = round_half_up(line.cost * quantity, line.quantity)
            lines.append((line, quantity, amount))
        taxes = tax_breakdown([(line.tax_class, amount) for line, _, amount in lines])
        total = sum(amount for _, _, amount in lines)
        # Cash handed back in CLP is rounded like cash taken (Ley 20.956); card refunds are exact.
        rounding = round_cash_clp(total) - total if refund == "cash" and currency == "CLP" else 0
        to_pay = total + rounding

        credit_id = uuid7()
        await _restock(session, ctx, lines, costs, credit_id)
        number = await next_number(session, ctx.tenant_id, "return")
        folio, folio_reason = await next_folio(session, CREDIT_NOTE)
        now = datetime.now(UTC)
        negated = [_negate_tax(t) for t in taxes]
        tenant = {"tenant_id": ctx.tenant_id}
        await session.execute(
            insert(Sale).values(
                **tenant,
                id=credit_id,
                number=number,
                kind="return",
                original_sale_id=original.id,
                reason=reason,
                approved_by=approved_by,
                register_id=ctx.register_id,
                store_id=ctx.store_id,
                cash_session_id=ctx.cash_session_id,
                user_id=ctx.user_id,
                command_id=command_id,
                doc_type=CREDIT_NOTE,
                folio=folio,
                total=-total,
                rounding=-rounding,
                to_pay=-to_pay,
                change=0,
                cost=-sum(costs.values()),
                taxes=[tax_dict(t) for t in negated],
                created_at=now,
            )
        )
        view_lines = [
            CartLine(
                line_id=line.line_no,
                product_id=line.product_id,
                sku=line.sku,
                name=line.name,
                unit=line.unit,
                quantity=-quantity,
                unit_price=line.unit_price,
                discount_percent=line.discount_percent,
                total=-amount,
            )
            for line, quantity, amount in lines
        ]
        await session.execute(
            insert(SaleLine),
            [
                tenant
                | {
                    "sale_id": credit_id,
                    "line_no": v.line_id,
                    "product_id": v.product_id,
                    "sku": v.sku,
                    "name": v.name,
                    "unit": v.unit,
                    "tax_class": line.tax_class,
                    "quantity": v.quantity,
                    "unit_price": v.unit_price,
                    "discount_percent": v.discount_percent,
                    "total": v.total,
                    "cost": -costs[v.line_id],
                }
                for v, (line, _, _) in zip(view_lines, lines, strict=True)
            ],
        )
        tender = TenderView(kind=refund, amount=-to_pay, tendered=-to_pay)  # type: ignore[arg-type]
        await session.execute(
            insert(SaleTender).values(
                **tenant, sale_id=credit_id, n=1, kind=refund, amount=-to_pay, tendered=-to_pay, change=0
            )
        )
        note = f"credit note for sale {original.number} (type {original.doc_type}, folio {original.folio})"
        await session.execute(
            insert(FiscalDocument).values(
                **tenant,
                id=uuid7(),
                sale_id=credit_id,
                doc_type=CREDIT_NOTE,
                folio=folio,
                status="pending",
                reason="; ".join(r for r in (note, folio_reason) if r),
                created_at=now,
            )
        )
        receipt = SaleReceipt(
            sale_id=credit_id,
            number=number,
            register_id=ctx.register_id,
            doc_type=CREDIT_NOTE,
            folio=folio,
            lines=view_lines,
            taxes=negated,
            total=-total,
            rounding=-rounding,
            to_pay=-to_pay,
            tenders=[tender],
            change=0,
            created_at=now.isoformat(),
            kind="return",
            original_sale_id=original.id,
            reason=reason,
            approved_by=approved_by,
        )
        emit(session, "tenant", "SaleReturned", receipt)
        emit(session, f"register:{ctx.register_id}", "SaleReturned", receipt)
    return receipt


async def _restock(
    session: AsyncSession,
    ctx: SaleContext,
    lines: list[tuple[SaleLine, int, int]],
    costs: dict[int, int],
    credit_id: uuid.UUID,
) -> None:
    """Goods come back at the average cost they left with (per line), moving the PPP accordingly."""
    by_product: dict[uuid.UUID, list[tuple[int, int]]] = defaultdict(list)  # product -> [(qty, cost)]
    for line, quantity, _ in lines:
        by_product[line.product_id].append((quantity, costs[line.line_no]))
    levels = await lock_levels(session, ctx.tenant_id, ctx.warehouse_id, list(by_product))
    updates: list[dict[str, object]] = []
    movements: list[dict[str, object]] = []
    for product_id in sorted(by_product):
        quantity, avg_cost = levels[product_id]
        state = StockState(quantity=quantity, avg_cost=avg_cost)
        moved = cost = 0
        for back, back_cost in by_product[product_id]:
            state = returned(state, back, round_half_up(back_cost * QUANTITY_SCALE * COST_SCALE, back))
            moved, cost = moved + back, cost + back_cost
        key = {"tenant_id": ctx.tenant_id, "warehouse_id": ctx.warehouse_id, "product_id": product_id}
        updates.append(key | {"quantity": state.quantity, "avg_cost": state.avg_cost})
        movements.append(
            key
            | {
                "id": uuid7(),
                "kind": "return",
                "quantity": moved,
                "cost": cost,
                "avg_cost_after": state.avg_cost,
                "quantity_after": state.quantity,
                "ref_id": credit_id,
                "user_id": ctx.user_id,
            }
        )
    await session.execute(update(StockLevel), updates)
    await session.execute(insert(StockMovement), movements)
