"""Paying a restaurant tab: which items, the sale's lines, the equal split's check, and marking them paid.

The payment is planned from the tab as it is (``plan_payment``: the items chosen, priced as they were
ordered, taxed, settled with the tip on top), then committed as ONE sale through ``actors.checkout
.commit_sale`` with ``paid_hook``: inside the sale's transaction the hook takes the store's next floor rev,
claims the tab (still open), marks the items paid by the sale (a partly paid line is split: the paid part
becomes a new line), closes the tab when nothing is left to pay and queues ``TabChanged``. Every item write
is conditional on the line being as planned (unpaid, not voided, the same quantity), so of two payments of
the same items (two hub nodes, two tills) exactly one commits; the other rolls back whole, sale included.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from actors.checkout import PricedLine, SaleHook
from actors.floor_errors import AlreadyPaidError, TabChangedError, TabClosedError
from actors.floor_tabs import announce, claim, close, items_of
from actors.floor_views import get_tab, to_pay
from actors.sales.errors import CardExceedsTotalError, InsufficientTenderError
from actors.sales.lines import line_total, require_whole_units
from actors.sales.settlement import Settlement, settle
from actors.sales.totals import cart_totals
from schema.errors import NotFoundError, ValidationError
from schema.messages.restaurant import PayItem, PayTab
from schema.messages.till import CartLine, SaleReceipt, TaxLine, Tender
from schema.models import Product, TabItem


@dataclass(frozen=True, slots=True)
class Pick:
    n: int  # the tab's line
    quantity: int  # paid now
    line_quantity: int  # the line's quantity when the payment was planned


@dataclass(frozen=True, slots=True)
class PayPlan:
    lines: list[PricedLine]
    taxes: list[TaxLine]
    settlement: Settlement
    picks: list[Pick]


def shares(amount: int, parts: int) -> list[int]:
    """``amount`` in ``parts`` equal shares, the remainder one unit each to the first ones."""
    base, rest = divmod(amount, parts)
    return [base + (1 if i < rest else 0) for i in range(parts)]


def check_parts(total: int, tip: int, parts: int, tenders: Sequence[Tender]) -> None:
    """An equal split: one tender per part, each covering its share of the total and of the tip (a card
    exactly, cash at least: the rest is its change)."""
    if parts == 1:
        return
    if len(tenders) != parts:
        raise ValidationError(f"an equal split in {parts} parts needs {parts} tenders, one per part")
    for part, (tender, total_share, tip_share) in enumerate(
        zip(tenders, shares(total, parts), shares(tip, parts), strict=True), start=1
    ):
        due = total_share + tip_share
        if tender.amount < due:
            raise InsufficientTenderError(
                f"part {part} pays {tender.amount} of its {due}", part=part, missing=due - tender.amount
            )
        if tender.kind == "card" and tender.amount > due:
            raise CardExceedsTotalError(
                f"part {part} pays {tender.amount} by card for its {due}; cards pay exactly",
                part=part,
                excess=tender.amount - due,
            )


def choose(items: dict[int, TabItem], wanted: Sequence[PayItem] | None) -> list[Pick]:
    """The lines to pay and how much of each: everything unpaid and not voided, or the ones asked for."""
    if wanted is None:
        picks = [Pick(i.n, i.quantity, i.quantity) for i in sorted(to_pay(items.values()), key=lambda i: i.n)]
        if not picks:
            raise ValidationError("nothing left to pay on this tab")
        return picks
    asked: dict[int, int] = {}
    for pay in wanted:
        asked[pay.n] = asked.get(pay.n, 0) + pay.quantity
    picks = []
    for n, quantity in sorted(asked.items()):
        item = items.get(n)
        if item is None:
            raise NotFoundError("no such item on this tab", n=n)
        if item.voided:
            raise ValidationError("this item was voided: there is nothing to pay for it", n=n)
        if item.sale_id is not None:
            raise AlreadyPaidError("this item was paid already", n=n)
        if quantity > item.quantity:
            raise ValidationError(
                "more than the line has", n=n, quantity=quantity, line_quantity=item.quantity
            )
        picks.append(Pick(n, quantity, item.quantity))
    return picks


def label(item: TabItem) -> str:
    """The line's name on the sale, the receipt and the tax document: the dish and its modifiers."""
    chosen = ", ".join(str(m["name"]) for m in item.modifiers or [])
    return (f"{item.name} ({chosen})" if chosen else item.name)[:200]


async def plan_payment(session: AsyncSession, store_id: uuid.UUID, request: PayTab, currency: str) -> PayPlan:
    tab = await get_tab(session, request.tab_id, store_id)
    if tab.status != "open":
        raise TabClosedError(f"tab {tab.number} is {tab.status}", tab_id=str(tab.id), status=tab.status)
    items = await items_of(session, tab.id)
    picks = choose(items, request.items)
    wanted = {items[p.n].product_id for p in picks}
    products = {
        row.id: row
        for row in (
            await session.execute(
                select(Product.id, Product.sku, Product.unit, Product.tax_class).where(Product.id.in_(wanted))
            )
        ).all()
    }
    priced: list[tuple[CartLine, str]] = []
    for line_id, pick in enumerate(picks, start=1):
        item, product = items[pick.n], products[items[pick.n].product_id]
        require_whole_units(product.unit, pick.quantity, "this product is paid by whole units", n=pick.n)
        line = CartLine(
            line_id=line_id, product_id=item.product_id, sku=product.sku, name=label(item),
            unit=product.unit, quantity=pick.quantity, unit_price=item.unit_price,
            total=line_total(item.unit_price, pick.quantity, 0),
        )  # fmt: skip
        priced.append((line, product.tax_class))
    totals = cart_totals(priced)
    check_parts(totals.total, request.tip, request.parts, request.tenders)
    settlement = settle(totals.total, request.tenders, currency, tip=request.tip)
    return PayPlan(
        lines=[PricedLine(line, tax_class) for line, tax_class in priced],
        taxes=totals.taxes,
        settlement=settlement,
        picks=picks,
    )


def paid_hook(store_id: uuid.UUID, tab_id: uuid.UUID, picks: Sequence[Pick]) -> SaleHook:
    """Mark the picked items paid by the sale, in the sale's transaction (see the module docstring)."""

    async def hook(session: AsyncSession, receipt: SaleReceipt) -> None:
        tab = await claim(session, store_id, tab_id)
        items = await items_of(session, tab.id)
        next_n = max(items, default=0) + 1
        for pick in picks:
            item = items.get(pick.n)
            if item is not None and item.sale_id is not None:
                raise AlreadyPaidError("this item was paid meanwhile", n=pick.n)
            if item is None or item.voided or item.quantity != pick.line_quantity:
                raise TabChangedError("the tab changed meanwhile: reload it and pay again", n=pick.n)
            unpaid = (
                TabItem.tab_id == tab.id,
                TabItem.n == pick.n,
                TabItem.sale_id.is_(None),
                TabItem.voided.is_(False),
                TabItem.quantity == pick.line_quantity,
            )
            if pick.quantity == item.quantity:
                done = await session.execute(update(TabItem).where(*unpaid).values(sale_id=receipt.sale_id))
            else:  # split the line: what is left stays, the paid part is a new line
                done = await session.execute(
                    update(TabItem).where(*unpaid).values(quantity=item.quantity - pick.quantity)
                )
                await session.execute(
                    insert(TabItem).values(
                        tenant_id=item.tenant_id, tab_id=tab.id, n=next_n, product_id=item.product_id,
                        name=item.name, unit_price=item.unit_price, quantity=pick.quantity,
                        modifiers=list(item.modifiers or []), note=item.note, course=item.course,
                        held=item.held, sent_at=item.sent_at, kitchen_order_id=item.kitchen_order_id,
                        sale_id=receipt.sale_id, voided=False, void_reason="", voided_by=None,
                        added_by=item.added_by, added_at=item.added_at,
                    )
                )  # fmt: skip
                next_n += 1
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise TabChangedError("the tab changed meanwhile: reload it and pay again", n=pick.n)
        if not to_pay((await items_of(session, tab.id)).values()):
            await close(session, tab.id)
        await announce(session, store_id, tab.id)

    return hook
