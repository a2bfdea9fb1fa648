"""A restaurant tab's way to the kitchen: marking items sent, the orders they make, and the ones undelivered.

``tab.send`` and ``tab.fire`` mark the items in the tab's change transaction (``actors.floor_tabs``), each
batch with a kitchen order id that is a ``uuid5`` of the tab and the batch number (one order per course, at
most 100 items each), so the same batch always has the same order. The FloorActor delivers the orders after
the commit through ``actors.kitchen.dispatch_order``, exactly as ``kitchen.order`` does; a station that has
the order already answers with its ticket, so delivering again (after a failure, or at the actor's start for
orders no station has) never cooks anything twice. A store without a station refuses before anything is
marked.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from actors.floor_tabs import Unchanged, change_tab, items_of
from actors.floor_views import read_tab
from actors.kitchen_tickets import NoStationError
from hub.db import Database
from schema.messages.kitchen import KitchenOrder, OrderItem
from schema.messages.restaurant import TabView
from schema.models import KitchenStation, KitchenTicket, Tab, TabItem

KITCHEN_ORDER_ITEMS = 100  # a KitchenOrder carries at most this many items


async def mark_sent(
    db: Database, tenant_id: uuid.UUID, store_id: uuid.UUID, tab_id: uuid.UUID, course: int | None
) -> tuple[TabView, list[KitchenOrder]]:
    """Mark for the kitchen every unsent, unvoided item that is not held (``course`` None), or every unsent,
    unvoided item of ``course`` (held or not: the course is fired). Returns the orders to deliver."""

    async def body(session: AsyncSession, tab: Tab) -> list[KitchenOrder]:
        items = await items_of(session, tab.id)
        going = [
            i for i in items.values()
            if i.sent_at is None and not i.voided and (i.course == course if course else not i.held)
        ]  # fmt: skip
        if not going:
            raise Unchanged
        station = await session.execute(
            select(KitchenStation.id).where(KitchenStation.store_id == store_id).limit(1)
        )
        if station.first() is None:
            raise NoStationError("this store has no kitchen station", store_id=str(store_id))
        batch = 1 + len({i.kitchen_order_id for i in items.values() if i.kitchen_order_id is not None})
        now = datetime.now(UTC)
        for course_no in sorted({i.course for i in going}):
            of_course = sorted((i for i in going if i.course == course_no), key=lambda i: i.n)
            for chunk in range(0, len(of_course), KITCHEN_ORDER_ITEMS):
                order_id = uuid.uuid5(tab.id, f"{batch}:{course_no}:{chunk}")
                ns = [i.n for i in of_course[chunk : chunk + KITCHEN_ORDER_ITEMS]]
                await session.execute(
                    update(TabItem)
                    .where(TabItem.tab_id == tab.id, TabItem.n.in_(ns))
                    .values(sent_at=now, kitchen_order_id=order_id, held=False)
                )
        sent = [i for i in (await items_of(session, tab.id)).values() if i.n in {g.n for g in going}]
        view = await read_tab(session, tab.id, store_id)
        return kitchen_orders(store_id, view.table_name, view.server, sent)

    view, orders = await change_tab(db, tenant_id, store_id, tab_id, body)
    return view, orders or []


def kitchen_orders(
    store_id: uuid.UUID, table_name: str, server: str, items: Sequence[TabItem]
) -> list[KitchenOrder]:
    """The kitchen orders of sent items, one per kitchen order id, as the stations will show them."""
    by_order: dict[uuid.UUID, list[TabItem]] = {}
    for item in sorted(items, key=lambda i: i.n):
        if item.kitchen_order_id is not None and not item.voided:
            by_order.setdefault(item.kitchen_order_id, []).append(item)
    return [
        KitchenOrder(
            store_id=store_id,
            order_id=order_id,
            table=table_name[:20],
            server=server[:60],
            course=f"Curso {group[0].course}",
            items=[
                OrderItem(
                    product_id=i.product_id,
                    quantity=i.quantity,
                    modifiers=[str(m["name"])[:60] for m in i.modifiers or []][:12],
                    note=i.note,
                )
                for i in group
            ],
        )
        for order_id, group in by_order.items()
    ]


async def undelivered_orders(db: Database, tenant_id: uuid.UUID, store_id: uuid.UUID) -> list[KitchenOrder]:
    """Orders of the store's open tabs that no station has a ticket of (a delivery that failed, or was cut
    short by a crash or restart after the items were marked sent)."""
    async with db.tenant(tenant_id) as session:
        missing = ~exists().where(KitchenTicket.order_id == TabItem.kitchen_order_id)
        rows = await session.execute(
            select(TabItem.tab_id)
            .join(Tab, (Tab.tenant_id == TabItem.tenant_id) & (Tab.id == TabItem.tab_id))
            .where(Tab.store_id == store_id, Tab.status == "open", TabItem.kitchen_order_id.is_not(None))
            .where(missing)
            .distinct()
        )
        orders: list[KitchenOrder] = []
        for tab_id in list(rows.scalars()):
            view = await read_tab(session, tab_id, store_id)
            missing_ids = set(
                (
                    await session.execute(
                        select(TabItem.kitchen_order_id).where(TabItem.tab_id == tab_id).where(missing)
                    )
                ).scalars()
            )
            sent = [
                i for i in (await items_of(session, tab_id)).values() if i.kitchen_order_id in missing_ids
            ]
            orders += kitchen_orders(store_id, view.table_name, view.server, sent)
    return orders
