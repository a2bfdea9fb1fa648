"""The tab transactions of a restaurant store: open, add, change, remove, void, move, merge, close.

Each is one short transaction that first takes the store's next floor ``rev`` (``floor_views.next_rev``,
whose row lock orders the store's changes across hub nodes), then claims the tab with a conditional UPDATE
(``status = 'open'``: a tab paid, closed or merged meanwhile is refused), then reads what it checks under
those locks, writes, and queues the ``TabChanged`` outbox event with the tab as it now is. A change that
turns out to change nothing raises :class:`Unchanged` inside the transaction, so its rev rolls back with it
and the store's revs stay gapless. The FloorActor calls these; nothing here depends on it being unique.

Sending to the kitchen (``actors.floor_kitchen``) and paying (``actors.floor_pay``) use the same frame.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from actors.checkout import next_number
from actors.floor_errors import (
    AlreadyPaidError,
    AlreadySentError,
    TabClosedError,
    TableBusyError,
    UnpaidItemsError,
)
from actors.floor_views import get_tab, next_rev, read_tab, tab_items, to_pay
from actors.sales.lines import require_whole_units
from hub.db import Database
from hub.events.outbox import emit
from schema.errors import NotFoundError, ValidationError
from schema.messages.restaurant import FLOOR_TAB_EVENT, AddToTab, TabView, floor_stream
from schema.models import (
    FloorTable,
    Product,
    ProductBarcode,
    ProductModifier,
    Tab,
    TabItem,
)

T = TypeVar("T")


class Unchanged(Exception):
    """Raised inside a tab change that changes nothing: the transaction (and its rev) rolls back."""


# -- the frame of every change ---------------------------------------------------------------------------


async def claim(session: AsyncSession, store_id: uuid.UUID, tab_id: uuid.UUID) -> Tab:
    """Take the store's next rev and give it to the tab, if the tab is open; else not_found / tab_closed."""
    rev = await next_rev(session, store_id)
    claimed = (
        await session.execute(
            update(Tab)
            .where(Tab.id == tab_id, Tab.store_id == store_id, Tab.status == "open")
            .values(rev=rev)
            .returning(Tab.id)
        )
    ).scalar_one_or_none()
    tab = await get_tab(session, tab_id, store_id)  # another store's or tenant's: not found
    if claimed is None:
        raise TabClosedError(f"tab {tab.number} is {tab.status}", tab_id=str(tab_id), status=tab.status)
    return tab


async def announce(session: AsyncSession, store_id: uuid.UUID, tab_id: uuid.UUID) -> TabView:
    view = await read_tab(session, tab_id, store_id)
    emit(session, floor_stream(store_id), FLOOR_TAB_EVENT, view)
    return view


async def current_tab(db: Database, tenant_id: uuid.UUID, store_id: uuid.UUID, tab_id: uuid.UUID) -> TabView:
    async with db.tenant(tenant_id) as session:
        return await read_tab(session, tab_id, store_id)


async def change_tab(
    db: Database,
    tenant_id: uuid.UUID,
    store_id: uuid.UUID,
    tab_id: uuid.UUID,
    body: Callable[[AsyncSession, Tab], Awaitable[T]],
) -> tuple[TabView, T | None]:
    """Run ``body`` on the claimed tab in one transaction and announce the tab; ``body``'s result too (None
    if it raised :class:`Unchanged`: then the tab is answered as it is)."""
    try:
        async with db.tenant(tenant_id) as session:
            tab = await claim(session, store_id, tab_id)
            result = await body(session, tab)
            view = await announce(session, store_id, tab_id)
        return view, result
    except Unchanged:
        return await current_tab(db, tenant_id, store_id, tab_id), None


async def items_of(session: AsyncSession, tab_id: uuid.UUID) -> dict[int, TabItem]:
    return {item.n: item for item in (await tab_items(session, [tab_id]))[tab_id]}


async def _item(session: AsyncSession, tab_id: uuid.UUID, n: int) -> TabItem:
    item = (await items_of(session, tab_id)).get(n)
    if item is None:
        raise NotFoundError("no such item on this tab", n=n)
    return item


def _changeable(item: TabItem) -> None:
    """Only an item the kitchen does not have yet, not paid nor voided, may change or go."""
    if item.voided:
        raise ValidationError("this item was voided", n=item.n)
    if item.sale_id is not None:
        raise AlreadyPaidError("this item was paid already", n=item.n)
    if item.sent_at is not None:
        raise AlreadySentError("the kitchen has this item already: void it instead", n=item.n)


async def _whole_units(session: AsyncSession, product_id: uuid.UUID, quantity: int) -> None:
    unit = (await session.execute(select(Product.unit).where(Product.id == product_id))).scalar_one()
    require_whole_units(unit, quantity, "this product is sold by whole units")


async def _busy(session: AsyncSession, table_id: uuid.UUID) -> None:
    open_tab = (
        await session.execute(select(Tab.id).where(Tab.table_id == table_id, Tab.status == "open"))
    ).scalar_one_or_none()
    if open_tab is not None:
        raise TableBusyError("this table already has an open tab", tab_id=str(open_tab))


async def _table(session: AsyncSession, store_id: uuid.UUID, table_id: uuid.UUID) -> FloorTable:
    table = (
        await session.execute(
            select(FloorTable).where(
                FloorTable.id == table_id, FloorTable.store_id == store_id, FloorTable.active
            )
        )
    ).scalar_one_or_none()
    if table is None:
        raise NotFoundError("table not found", table_id=str(table_id))
    return table


# -- the commands ----------------------------------------------------------------------------------------


async def open_tab(
    db: Database,
    tenant_id: uuid.UUID,
    store_id: uuid.UUID,
    table_id: uuid.UUID,
    guests: int,
    user_id: uuid.UUID | None,
) -> TabView:
    async with db.tenant(tenant_id) as session:
        rev = await next_rev(session, store_id)
        await _table(session, store_id, table_id)
        await _busy(session, table_id)
        number = await next_number(session, tenant_id, "tab")
        tab = Tab(store_id=store_id, table_id=table_id, number=number, status="open", guests=guests,
                  opened_by=user_id, opened_at=datetime.now(UTC), rev=rev)  # fmt: skip
        session.add(tab)
        await session.flush()
        return await announce(session, store_id, tab.id)


async def _product(session: AsyncSession, add: AddToTab) -> Product:
    if (add.product_id is None) == (add.code is None):
        raise ValidationError("give either a product_id or a code")
    query = select(Product).where(Product.active)
    if add.product_id is not None:
        query = query.where(Product.id == add.product_id)
    else:
        code = (add.code or "").strip()
        by_barcode = select(ProductBarcode.product_id).where(ProductBarcode.barcode == code)
        query = query.where(or_(Product.id.in_(by_barcode), Product.sku == code)).order_by(Product.sku)
    product = (await session.execute(query.limit(1))).scalar_one_or_none()
    if product is None:
        raise NotFoundError("no such product", product_id=str(add.product_id or ""), code=add.code or "")
    return product


async def _modifiers(
    session: AsyncSession, product: Product, ids: Sequence[uuid.UUID]
) -> list[dict[str, Any]]:
    """The chosen modifiers in the order given; each must be one of the product's, at most once."""
    if len(set(ids)) != len(ids):
        raise ValidationError("a modifier is chosen twice")
    if not ids:
        return []
    rows = {
        m.id: m
        for m in (
            await session.execute(select(ProductModifier).where(ProductModifier.id.in_(list(ids))))
        ).scalars()
    }
    chosen: list[dict[str, Any]] = []
    for modifier_id in ids:
        modifier = rows.get(modifier_id)
        if modifier is None or modifier.product_id != product.id:
            raise ValidationError("that modifier is not one of this product's", modifier_id=str(modifier_id))
        chosen.append(
            {"group": modifier.group_name, "name": modifier.name, "price_delta": modifier.price_delta}
        )
    return chosen


async def add_item(
    db: Database, tenant_id: uuid.UUID, store_id: uuid.UUID, add: AddToTab, user_id: uuid.UUID | None
) -> TabView:
    async def body(session: AsyncSession, tab: Tab) -> None:
        product = await _product(session, add)
        require_whole_units(product.unit, add.quantity, f"{product.name} is sold by whole units")
        modifiers = await _modifiers(session, product, add.modifier_ids)
        unit_price = product.price + sum(int(m["price_delta"]) for m in modifiers)
        if unit_price < 0:
            raise ValidationError("the modifiers take the price below zero", unit_price=unit_price)
        last = (
            await session.execute(select(func.max(TabItem.n)).where(TabItem.tab_id == tab.id))
        ).scalar_one()
        session.add(
            TabItem(tab_id=tab.id, n=int(last or 0) + 1, product_id=product.id, name=product.name,
                    unit_price=unit_price, quantity=add.quantity, modifiers=modifiers, note=add.note.strip(),
                    course=add.course, held=add.hold, added_by=user_id, added_at=datetime.now(UTC))
        )  # fmt: skip
        await session.flush()

    return (await change_tab(db, tenant_id, store_id, add.tab_id, body))[0]


async def set_quantity(
    db: Database, tenant_id: uuid.UUID, store_id: uuid.UUID, tab_id: uuid.UUID, n: int, quantity: int
) -> TabView:
    async def body(session: AsyncSession, tab: Tab) -> None:
        item = await _item(session, tab.id, n)
        _changeable(item)
        if item.quantity == quantity:
            raise Unchanged
        await _whole_units(session, item.product_id, quantity)
        await session.execute(
            update(TabItem).where(TabItem.tab_id == tab.id, TabItem.n == n).values(quantity=quantity)
        )

    return (await change_tab(db, tenant_id, store_id, tab_id, body))[0]


async def remove_item(
    db: Database, tenant_id: uuid.UUID, store_id: uuid.UUID, tab_id: uuid.UUID, n: int
) -> TabView:
    async def body(session: AsyncSession, tab: Tab) -> None:
        _changeable(await _item(session, tab.id, n))
        await session.execute(delete(TabItem).where(TabItem.tab_id == tab.id, TabItem.n == n))

    return (await change_tab(db, tenant_id, store_id, tab_id, body))[0]


async def void_item(
    db: Database,
    tenant_id: uuid.UUID,
    store_id: uuid.UUID,
    tab_id: uuid.UUID,
    n: int,
    reason: str,
    approved_by: uuid.UUID,
) -> TabView:
    async def body(session: AsyncSession, tab: Tab) -> None:
        item = await _item(session, tab.id, n)
        if item.voided:
            raise Unchanged
        if item.sale_id is not None:
            raise AlreadyPaidError("this item was paid already", n=n)
        if item.sent_at is None:
            raise ValidationError("the kitchen does not have this item yet: remove it instead", n=n)
        await session.execute(
            update(TabItem)
            .where(TabItem.tab_id == tab.id, TabItem.n == n)
            .values(voided=True, void_reason=reason.strip(), voided_by=approved_by)
        )

    return (await change_tab(db, tenant_id, store_id, tab_id, body))[0]


async def move_tab(
    db: Database, tenant_id: uuid.UUID, store_id: uuid.UUID, tab_id: uuid.UUID, table_id: uuid.UUID
) -> TabView:
    async def body(session: AsyncSession, tab: Tab) -> None:
        await _table(session, store_id, table_id)
        if tab.table_id == table_id:
            raise Unchanged
        await _busy(session, table_id)
        await session.execute(update(Tab).where(Tab.id == tab.id).values(table_id=table_id))

    return (await change_tab(db, tenant_id, store_id, tab_id, body))[0]


async def merge_tabs(
    db: Database, tenant_id: uuid.UUID, store_id: uuid.UUID, tab_id: uuid.UUID, into_id: uuid.UUID
) -> TabView:
    """Move every item of ``tab_id`` into ``into_id`` (after its own lines); ``tab_id`` ends merged."""
    if tab_id == into_id:
        raise ValidationError("a tab cannot be merged into itself")
    async with db.tenant(tenant_id) as session:
        source = await claim(session, store_id, tab_id)
        target = await claim(session, store_id, into_id)
        moving = sorted((await items_of(session, source.id)).values(), key=lambda i: i.n)
        last = (
            await session.execute(select(func.max(TabItem.n)).where(TabItem.tab_id == target.id))
        ).scalar_one()
        for offset, item in enumerate(moving, start=1):
            await session.execute(
                update(TabItem)
                .where(TabItem.tab_id == source.id, TabItem.n == item.n)
                .values(tab_id=target.id, n=int(last or 0) + offset)
            )
        now = datetime.now(UTC)
        await session.execute(
            update(Tab)
            .where(Tab.id == source.id)
            .values(status="merged", merged_into=target.id, closed_at=now)
        )
        await session.execute(
            update(Tab).where(Tab.id == target.id).values(guests=min(99, target.guests + source.guests))
        )
        await announce(session, store_id, source.id)
        return await announce(session, store_id, target.id)


async def close_tab(db: Database, tenant_id: uuid.UUID, store_id: uuid.UUID, tab_id: uuid.UUID) -> TabView:
    async def body(session: AsyncSession, tab: Tab) -> None:
        left = to_pay((await items_of(session, tab.id)).values())
        if left:
            raise UnpaidItemsError("the tab still has items to pay", items=[i.n for i in left])
        await close(session, tab.id)

    return (await change_tab(db, tenant_id, store_id, tab_id, body))[0]


async def close(session: AsyncSession, tab_id: uuid.UUID) -> None:
    await session.execute(
        update(Tab).where(Tab.id == tab_id).values(status="closed", closed_at=datetime.now(UTC))
    )
