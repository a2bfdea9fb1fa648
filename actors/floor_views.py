"""Reading a restaurant store's floor: its settings and change counter, tab views, the whole floor state.

Every change of a store's floor takes the store's next ``rev`` first (``next_rev``: ``UPDATE ... RETURNING``
on its ``floor_settings`` row, whose lock is held to the commit), so a store's changes are numbered in commit
order, without gaps, and never interleave, even across hub nodes. A reader that takes the same row ``FOR
SHARE`` (``read_floor``) waits for a change in flight and keeps the next one out until it has read
everything, so what it reads is exactly the floor at the ``rev`` it reports.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from actors.kitchen_tickets import utc
from actors.sales.lines import line_total
from hub.db import tenant_of
from schema.errors import NotFoundError
from schema.messages.restaurant import (
    FloorAreaView,
    FloorState,
    FloorTableView,
    ItemModifier,
    ModifierView,
    TabItemView,
    TabSummary,
    TabView,
)
from schema.models import (
    FloorArea,
    FloorSettings,
    FloorTable,
    Product,
    ProductModifier,
    Tab,
    TabItem,
    User,
)
from schema.models.restaurant import DEFAULT_TIP_PERCENT
from schema.money import round_half_up


def aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes (stored as UTC)."""
    return utc(moment) or moment


# -- the store's settings and change counter -------------------------------------------------------------


async def floor_settings(session: AsyncSession, store_id: uuid.UUID, *, share: bool = False) -> FloorSettings:
    """The store's floor settings row, made with the defaults the first time (by whichever node gets there).

    ``share`` locks it FOR SHARE (Postgres): no floor change of the store commits until this transaction ends.
    """
    query = (
        select(FloorSettings)
        .where(FloorSettings.store_id == store_id)
        .execution_options(populate_existing=True)
    )
    if share:
        query = query.with_for_update(read=True)
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        insert_ = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        await session.execute(
            insert_(FloorSettings)
            .values(
                tenant_id=tenant_of(session),
                store_id=store_id,
                tip_percent=DEFAULT_TIP_PERCENT,
                rev=0,
                updated_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing()
        )
        row = (await session.execute(query)).scalar_one()
    return row


async def next_rev(session: AsyncSession, store_id: uuid.UUID) -> int:
    """The store's next floor change number; the UPDATE holds the settings row's lock until commit."""
    bump = (
        update(FloorSettings)
        .where(FloorSettings.store_id == store_id)
        .values(rev=FloorSettings.rev + 1)
        .returning(FloorSettings.rev)
    )
    value = (await session.execute(bump)).scalar_one_or_none()
    if value is None:  # the store's first floor change
        await floor_settings(session, store_id)
        value = (await session.execute(bump)).scalar_one()
    return int(value)


# -- tabs ------------------------------------------------------------------------------------------------


def item_total(item: TabItem) -> int:
    return line_total(item.unit_price, item.quantity, 0)


def item_view(item: TabItem) -> TabItemView:
    return TabItemView(
        n=item.n,
        product_id=item.product_id,
        name=item.name,
        unit_price=item.unit_price,
        quantity=item.quantity,
        modifiers=[ItemModifier(**m) for m in item.modifiers or []],
        note=item.note,
        course=item.course,
        held=item.held,
        sent=item.sent_at is not None,
        voided=item.voided,
        void_reason=item.void_reason,
        paid=item.sale_id is not None,
        total=item_total(item),
        added_at=aware(item.added_at),
        sent_at=utc(item.sent_at),
    )


def to_pay(items: Iterable[TabItem]) -> list[TabItem]:
    """The items still to pay: neither paid nor voided."""
    return [item for item in items if item.sale_id is None and not item.voided]


def suggested_tip(total: int, tip_percent: int) -> int:
    return round_half_up(total * tip_percent, 100)


def tab_view(tab: Tab, table_name: str, server: str, items: Sequence[TabItem], tip_percent: int) -> TabView:
    total = sum(item_total(i) for i in to_pay(items))
    return TabView(
        tab_id=tab.id,
        number=tab.number,
        store_id=tab.store_id,
        table_id=tab.table_id,
        table_name=table_name,
        status=tab.status,  # type: ignore[arg-type]  # the CHECK constraint keeps it to the three
        guests=tab.guests,
        server=server,
        opened_at=aware(tab.opened_at),
        closed_at=utc(tab.closed_at),
        merged_into=tab.merged_into,
        items=[item_view(i) for i in sorted(items, key=lambda i: i.n)],
        total=total,
        paid_total=sum(item_total(i) for i in items if i.sale_id is not None and not i.voided),
        tip_percent=tip_percent,
        suggested_tip=suggested_tip(total, tip_percent),
        rev=tab.rev,
    )


async def tab_items(session: AsyncSession, tab_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[TabItem]]:
    found: dict[uuid.UUID, list[TabItem]] = {tab_id: [] for tab_id in tab_ids}
    if tab_ids:
        rows = await session.execute(
            select(TabItem)
            .where(TabItem.tab_id.in_(list(tab_ids)))
            .order_by(TabItem.tab_id, TabItem.n)
            .execution_options(populate_existing=True)
        )
        for item in rows.scalars():
            found[item.tab_id].append(item)
    return found


async def user_names(session: AsyncSession, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.display_name).where(User.id.in_(wanted)))
    return {user_id: name for user_id, name in rows.tuples()}


async def get_tab(
    session: AsyncSession, tab_id: uuid.UUID, store_id: uuid.UUID | None = None, *, share: bool = False
) -> Tab:
    """The tab (of ``store_id`` when given); another store's or tenant's is not found."""
    query = select(Tab).where(Tab.id == tab_id).execution_options(populate_existing=True)
    if share:
        query = query.with_for_update(read=True)
    tab = (await session.execute(query)).scalar_one_or_none()
    if tab is None or (store_id is not None and tab.store_id != store_id):
        raise NotFoundError("tab not found", tab_id=str(tab_id))
    return tab


async def read_tab(session: AsyncSession, tab_id: uuid.UUID, store_id: uuid.UUID | None = None) -> TabView:
    """The tab as it is in this transaction (its row read FOR SHARE, so no change of it is half seen)."""
    tab = await get_tab(session, tab_id, store_id, share=True)
    table = await session.get(FloorTable, (tab.tenant_id, tab.table_id))
    names = await user_names(session, [tab.opened_by])
    items = (await tab_items(session, [tab.id]))[tab.id]
    settings = await floor_settings(session, tab.store_id)
    return tab_view(
        tab,
        table.name if table is not None else "",
        names.get(tab.opened_by, "") if tab.opened_by else "",
        items,
        settings.tip_percent,
    )


def tab_summary(tab: Tab, server: str, items: Sequence[TabItem], tip_percent: int) -> TabSummary:
    view = tab_view(tab, "", server, items, tip_percent)
    live = [i for i in items if not i.voided]
    return TabSummary(
        tab_id=tab.id,
        number=tab.number,
        guests=tab.guests,
        server=server,
        opened_at=view.opened_at,
        total=view.total,
        paid_total=view.paid_total,
        items=len(live),
        unsent=sum(1 for i in live if i.sent_at is None),
        held=sum(1 for i in live if i.sent_at is None and i.held),
        rev=tab.rev,
    )


# -- the floor -------------------------------------------------------------------------------------------


async def modifiers(session: AsyncSession) -> list[ModifierView]:
    """Every modifier of the tenant's active products, by product, group and position."""
    rows = await session.execute(
        select(ProductModifier)
        .join(
            Product,
            (Product.tenant_id == ProductModifier.tenant_id) & (Product.id == ProductModifier.product_id),
        )
        .where(Product.active)
        .order_by(
            ProductModifier.product_id,
            ProductModifier.group_name,
            ProductModifier.position,
            ProductModifier.name,
            ProductModifier.id,
        )
    )
    return [
        ModifierView(
            id=m.id,
            product_id=m.product_id,
            group=m.group_name,
            name=m.name,
            price_delta=m.price_delta,
            position=m.position,
        )
        for m in rows.scalars()
    ]


async def read_floor(session: AsyncSession, store_id: uuid.UUID) -> FloorState:
    """The store's floor exactly at the rev it reports (its settings row is read FOR SHARE first)."""
    settings = await floor_settings(session, store_id, share=True)
    areas = list(
        (
            await session.execute(
                select(FloorArea)
                .where(FloorArea.store_id == store_id, FloorArea.active)
                .order_by(FloorArea.position, FloorArea.name, FloorArea.id)
            )
        ).scalars()
    )
    tables = list(
        (
            await session.execute(
                select(FloorTable)
                .where(FloorTable.store_id == store_id, FloorTable.active)
                .order_by(FloorTable.name, FloorTable.id)
            )
        ).scalars()
    )
    tabs = list(
        (
            await session.execute(
                select(Tab)
                .where(Tab.store_id == store_id, Tab.status == "open")
                .execution_options(populate_existing=True)
            )
        ).scalars()
    )
    items = await tab_items(session, [t.id for t in tabs])
    names = await user_names(session, [t.opened_by for t in tabs])
    by_table = {
        t.table_id: tab_summary(t, names.get(t.opened_by, "") if t.opened_by else "", items[t.id],
                                settings.tip_percent)
        for t in tabs
    }  # fmt: skip
    return FloorState(
        store_id=store_id,
        areas=[
            FloorAreaView(
                id=area.id,
                name=area.name,
                position=area.position,
                tables=[
                    FloorTableView(
                        id=t.id,
                        name=t.name,
                        seats=t.seats,
                        x=t.x,
                        y=t.y,
                        shape=t.shape,  # type: ignore[arg-type]  # the CHECK constraint keeps it to two
                        tab=by_table.get(t.id),
                    )
                    for t in tables
                    if t.area_id == area.id
                ],
            )
            for area in areas
        ],
        modifiers=await modifiers(session),
        tip_percent=settings.tip_percent,
        rev=settings.rev,
    )
