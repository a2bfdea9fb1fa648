"""What the dashboard reads from the database: today's state rebuilt with a few aggregate queries, and the
facts a sale event lacks (cost, tax classes, categories, current stock).

A consistent cut without a snapshot transaction: sales and credit notes are numbered per kind under the
counter's row lock, held to the commit, so the committed numbers of a kind are always 1..N with no holes.
The rebuild reads each kind's highest number first and every later query counts only documents up to it;
whatever commits meanwhile has a higher number, is left out everywhere, and arrives as an event (the actor
subscribed before rebuilding). The set of counted ids comes from the same cut, so nothing is counted
twice or missed, on SQLite (one writer at a time) and on Postgres (READ COMMITTED, statement by statement).

The SQL helpers (``bucket``, ``sale_tax``) are portable: ``hub.http.reports`` uses them too.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import BigInteger, ColumnElement, and_, case, false, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from actors.dashboard_totals import (
    HOURS,
    MAX_REJECTIONS,
    SALE_EVENTS,
    apply,
    cash_entry,
    count_product,
    count_sales,
    count_ticket,
    day_bounds,
    hour_starts,
    local_day,
    low_level,
    new_device,
    new_state,
    new_station,
)
from actors.print_jobs import OPEN_STATES
from hub.db import Database
from schema.errors import ConflictError, NotFoundError
from schema.ids import utc_iso
from schema.messages.devices import DeviceStatusView
from schema.models import (
    CashSession,
    Category,
    Device,
    FiscalDocument,
    KitchenStation,
    KitchenTicket,
    PrintJob,
    Product,
    Register,
    Sale,
    SaleLine,
    StockLevel,
    Store,
    Tenant,
    Warehouse,
)

log = logging.getLogger("actors.dashboard")

# A device's live state, from its DeviceActor on this node or the status another node shares (None: not
# connected anywhere).
DeviceStatus = Callable[[uuid.UUID, uuid.UUID], Awaitable[DeviceStatusView | None]]
DEVICE_KINDS = ("printer", "scale", "drawer")
OPEN_TICKETS = ("new", "in_progress", "ready")

_SALE_TAX = {
    "postgresql": "(SELECT COALESCE(SUM((t.value ->> 'tax')::bigint), 0) "
    "FROM json_array_elements(sales.taxes) AS t)",
    "sqlite": "(SELECT COALESCE(SUM(json_extract(t.value, '$.tax')), 0) FROM json_each(sales.taxes) AS t)",
}


def sale_tax(dialect: str) -> ColumnElement[int]:
    """A sale's tax as its document states it: the sum of ``tax`` over its ``taxes`` (JSON) breakdown."""
    return literal_column(_SALE_TAX[dialect], BigInteger)


def bucket(column: Any, starts: Sequence[tuple[datetime, int]]) -> ColumnElement[int]:
    """The value of the last ``(instant, value)`` of ``starts`` (ascending) at or before ``column``.

    A balanced tree of CASEs: log2(n) comparisons per row (a year of days costs 9), portable to every
    backend, and exact for any time zone (no date functions of the database involved).
    """
    if len(starts) == 1:
        return literal_column(str(int(starts[0][1])), BigInteger)
    middle = len(starts) // 2
    return case(
        (column < starts[middle][0], bucket(column, starts[:middle])), else_=bucket(column, starts[middle:])
    )


def tenant_zone(tenant: Tenant) -> tzinfo:
    return ZoneInfo(tenant.timezone)


def _cut(cut: dict[str, int]) -> ColumnElement[bool]:
    parts = [and_(Sale.kind == kind, Sale.number <= top) for kind, top in cut.items()]
    return or_(*parts) if parts else false()


async def load_state(
    db: Database, tenant_id: uuid.UUID, now: datetime, status: DeviceStatus
) -> dict[str, Any]:
    """Today's dashboard state of the tenant (and last week's same weekday, hour by hour)."""
    async with db.tenant(tenant_id) as session:
        tenant = await session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFoundError("tenant not found")
        tz = tenant_zone(tenant)
        day = local_day(now, tz)
        state = new_state(day, timezone=tenant.timezone, currency=tenant.currency)
        cut = {
            kind: int(top)
            for kind, top in await session.execute(
                select(Sale.kind, func.max(Sale.number)).group_by(Sale.kind)
            )
        }
        window = _window(day, tz)
        await _names(session, state)
        await _sales(session, state, day, tz, and_(window, _cut(cut)), db.engine.dialect.name)
        await _last_week(session, state, day, tz)
        await _stock(session, state)
        await _fiscal(session, state)
        await _cash(session, state, day, tz)
        await _kitchen(session, state, day, tz)
        devices = await _devices(session, state, day, tz)
    for device_id in devices:  # outside the transaction: asking actors may take a moment
        show_status(state["devices"][str(device_id)], await status(tenant_id, device_id))
    return state


def show_status(device: dict[str, Any], view: DeviceStatusView | None) -> None:
    """Put a device's live status into its dashboard entry (None: its agent is connected nowhere)."""
    if view is None:
        device.update(connected=False, online=False)
        return
    device.update(
        connected=view.connected,
        online=view.online,
        paper_out=view.paper_out,
        paper_near_end=view.paper_near_end,
        cover_open=view.cover_open,
        error=view.error,
        detail=view.detail,
    )


def _window(day: date, tz: tzinfo) -> ColumnElement[bool]:
    start, end = day_bounds(day, tz)
    return and_(Sale.created_at >= start, Sale.created_at < end)


async def _names(session: AsyncSession, state: dict[str, Any]) -> None:
    rows = await session.execute(select(Register.id, Register.name))
    state["registers"] = {
        str(rid): {"name": name, "total": 0, "count": 0, "returns": 0} for rid, name in rows
    }
    state["warehouses"] = {
        str(wid): name for wid, name in await session.execute(select(Warehouse.id, Warehouse.name))
    }


async def _sales(
    session: AsyncSession,
    state: dict[str, Any],
    day: date,
    tz: tzinfo,
    where: ColumnElement[bool],
    dialect: str,
) -> None:
    documents = await session.execute(
        select(Sale.id, FiscalDocument.status)
        .outerjoin(
            FiscalDocument,
            (FiscalDocument.sale_id == Sale.id) & (FiscalDocument.tenant_id == Sale.tenant_id),
        )
        .where(where)
    )
    for sale_id, status in documents:
        state["sales"][str(sale_id)] = status or "pending"
        state["fiscal"][status or "pending"] = state["fiscal"].get(status or "pending", 0) + 1
    inner = (
        select(
            Sale.register_id,
            Sale.kind,
            Sale.total,
            Sale.cost,
            sale_tax(dialect).label("tax"),
            bucket(Sale.created_at, hour_starts(day, tz)).label("hour"),
        )
        .where(where)
        .subquery()
    )
    rows = await session.execute(
        select(
            inner.c.register_id,
            inner.c.hour,
            inner.c.kind,
            func.count(),
            func.sum(inner.c.total),
            func.sum(inner.c.tax),
            func.sum(inner.c.cost),
        ).group_by(inner.c.register_id, inner.c.hour, inner.c.kind)
    )
    for register_id, hour, kind, n, total, tax, cost in rows:
        count_sales(state, str(register_id), int(hour), kind, int(n), int(total), int(tax), int(cost))
    columns = (
        SaleLine.product_id,
        SaleLine.tax_class,
        Product.name,
        Product.sku,
        Product.unit,
        Product.category_id,
    )
    lines = await session.execute(
        select(
            *columns,
            Category.name,
            func.sum(SaleLine.quantity),
            func.sum(SaleLine.total),
            func.sum(SaleLine.cost),
        )
        .join(Sale, (Sale.id == SaleLine.sale_id) & (Sale.tenant_id == SaleLine.tenant_id))
        .join(Product, (Product.id == SaleLine.product_id) & (Product.tenant_id == SaleLine.tenant_id))
        .outerjoin(Category, (Category.id == Product.category_id) & (Category.tenant_id == Product.tenant_id))
        .where(where)
        .group_by(*columns, Category.name)
    )
    for product_id, tax_class, name, sku, unit, category_id, category, quantity, total, cost in lines:
        product = {
            "product_id": str(product_id), "name": name, "sku": sku, "unit": unit,
            "category_id": str(category_id) if category_id else None, "category": category or "",
        }  # fmt: skip
        count_product(state, product, tax_class, int(quantity), int(total), int(cost))


async def _last_week(session: AsyncSession, state: dict[str, Any], day: date, tz: tzinfo) -> None:
    before = day - timedelta(days=7)
    inner = (
        select(Sale.total, bucket(Sale.created_at, hour_starts(before, tz)).label("hour"))
        .where(_window(before, tz))
        .subquery()
    )
    hours = [0] * HOURS
    for hour, total in await session.execute(
        select(inner.c.hour, func.sum(inner.c.total)).group_by(inner.c.hour)
    ):
        hours[int(hour)] = int(total)
    state["hours"][before.isoformat()] = hours


async def _stock(session: AsyncSession, state: dict[str, Any]) -> None:
    rows = await session.execute(
        select(StockLevel.warehouse_id, StockLevel.product_id, StockLevel.quantity, Product.sku, Product.name,
               Product.min_stock)
        .join(Product, (Product.id == StockLevel.product_id) & (Product.tenant_id == StockLevel.tenant_id))
        .where(StockLevel.quantity < Product.min_stock, Product.active.is_(True))
    )  # fmt: skip
    for row in rows:
        state["low_stock"][f"{row.warehouse_id}:{row.product_id}"] = low_level(row._asdict())


async def _fiscal(session: AsyncSession, state: dict[str, Any]) -> None:
    rows = await session.execute(
        select(FiscalDocument)
        .where(FiscalDocument.status == "rejected")
        .order_by(FiscalDocument.updated_at.desc(), FiscalDocument.id.desc())
        .limit(MAX_REJECTIONS)
    )
    state["rejections"] = [
        {
            "document_id": str(d.id),
            "sale_id": str(d.sale_id),
            "doc_type": d.doc_type,
            "folio": d.folio,
            "reason": d.reason,
            "authority_state": d.authority_state,
        }
        for d in rows.scalars()
    ]


async def _cash(session: AsyncSession, state: dict[str, Any], day: date, tz: tzinfo) -> None:
    start, _ = day_bounds(day, tz)
    rows = await session.execute(
        select(CashSession).where(CashSession.closed_at.is_(None) | (CashSession.closed_at >= start))
    )
    for c in rows.scalars():
        if c.closed_at is not None:  # so that a late "opened" event cannot bring it back
            state["closed"][str(c.id)] = 1
            continue
        state["cash"][str(c.id)] = cash_entry(c.register_id, utc_iso(c.opened_at), c.float_amount)


async def _kitchen(session: AsyncSession, state: dict[str, Any], day: date, tz: tzinfo) -> None:
    """Every station (by name, figures at zero), then each ticket opened today through ``count_ticket``, as
    its events would have counted it: one row per ticket, a day's worth at most."""
    stations = await session.execute(select(KitchenStation.id, KitchenStation.name, KitchenStation.store_id))
    for station_id, name, store_id in stations:
        state["kitchen"][str(station_id)] = new_station(name, str(store_id))
    if not state["kitchen"]:
        return  # a shop without a kitchen
    start, end = day_bounds(day, tz)
    rows = await session.execute(
        select(
            KitchenTicket.id.label("ticket_id"), KitchenTicket.station_id, KitchenTicket.state,
            KitchenTicket.rev, KitchenTicket.created_at, KitchenTicket.ready_at, KitchenTicket.served_at,
        ).where(
            # By station and state or serving time, so both kitchen_tickets indexes serve it; a ticket
            # opened today and served is served after midnight (a day's slack for clocks that disagree).
            KitchenTicket.station_id.in_([uuid.UUID(sid) for sid in state["kitchen"]]),
            KitchenTicket.state.in_(OPEN_TICKETS) | (KitchenTicket.served_at >= start - timedelta(days=1)),
            KitchenTicket.created_at >= start,
            KitchenTicket.created_at < end,
        )
    )  # fmt: skip
    for row in rows:
        count_ticket(state, row._asdict(), tz)


async def _devices(session: AsyncSession, state: dict[str, Any], day: date, tz: tzinfo) -> list[uuid.UUID]:
    rows = (
        await session.execute(
            select(Device).where(Device.revoked_at.is_(None), Device.kind.in_(DEVICE_KINDS))
        )
    ).scalars()
    for d in rows:
        register_id = str(d.register_id) if d.register_id else None
        state["devices"][str(d.id)] = new_device(kind=d.kind, name=d.name, register_id=register_id)
    start, _ = day_bounds(day, tz)
    jobs = await session.execute(
        select(PrintJob.device_id, PrintJob.id, PrintJob.state).where(
            PrintJob.state.in_(OPEN_STATES) | ((PrintJob.state == "failed") & (PrintJob.updated_at >= start))
        )
    )
    for device_id, job_id, job_state in jobs:
        device = state["devices"].get(str(device_id))
        if device is None:
            continue  # a revoked printer's leftovers
        if job_state == "failed":
            device["failed"][str(job_id)] = 1
        else:
            device["jobs"][str(job_id)] = job_state
    return [uuid.UUID(did) for did in state["devices"]]


# -- enriching a sale event --------------------------------------------------------------------------


async def sale_facts(db: Database, tenant_id: uuid.UUID, sale_id: uuid.UUID) -> dict[str, Any] | None:
    """What a sale event lacks: its cost, each line's cost, tax class and category, the register's name,
    its fiscal document's state and the sold products' current levels in the register's warehouse.
    None when the sale is not there (another tenant's id cannot be: the session is the tenant's)."""
    async with db.tenant(tenant_id) as session:
        head = (
            await session.execute(
                select(Sale.cost, Register.name, Store.warehouse_id, FiscalDocument.status)
                .join(Register, (Register.id == Sale.register_id) & (Register.tenant_id == Sale.tenant_id))
                .join(Store, (Store.id == Register.store_id) & (Store.tenant_id == Register.tenant_id))
                .outerjoin(
                    FiscalDocument,
                    (FiscalDocument.sale_id == Sale.id) & (FiscalDocument.tenant_id == Sale.tenant_id),
                )
                .where(Sale.id == sale_id)
            )
        ).first()
        if head is None:
            return None
        cost, register_name, warehouse_id, status = head
        lines = await session.execute(
            select(
                SaleLine.cost,
                SaleLine.tax_class,
                Product.category_id,
                Category.name,
                Product.sku,
                Product.min_stock,
                StockLevel.quantity,
                SaleLine.product_id,
                Product.name,
            )
            .join(Product, (Product.id == SaleLine.product_id) & (Product.tenant_id == SaleLine.tenant_id))
            .outerjoin(
                Category, (Category.id == Product.category_id) & (Category.tenant_id == Product.tenant_id)
            )
            .outerjoin(
                StockLevel,
                (StockLevel.product_id == SaleLine.product_id)
                & (StockLevel.tenant_id == SaleLine.tenant_id)
                & (StockLevel.warehouse_id == warehouse_id),
            )
            .where(SaleLine.sale_id == sale_id)
            .order_by(SaleLine.line_no)
        )
        # In line order, which is the receipt's: a sale numbers its lines 1..n in the cart's order (the cart's
        # own line ids may have gaps), a credit note keeps the original's numbers, ascending.
        by_line: list[dict[str, Any]] = []
        stock: dict[str, dict[str, Any]] = {}
        for line_cost, tax_class, category_id, category, sku, min_stock, level, product_id, name in lines:
            by_line.append({
                "cost": int(line_cost), "tax_class": tax_class, "category": category or "",
                "category_id": str(category_id) if category_id else None, "sku": sku, "name": name,
            })  # fmt: skip
            if level is not None:
                stock[str(product_id)] = low_level(
                    {"warehouse_id": warehouse_id, "product_id": product_id, "sku": sku, "name": name,
                     "quantity": level, "min_stock": min_stock}
                )  # fmt: skip
    return {"cost": int(cost), "register_name": register_name, "fiscal_status": status or "pending",
            "lines": by_line, "stock": list(stock.values())}  # fmt: skip


def enrich(sale: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    """The event's payload with the facts merged in, line by line in order. A line's name becomes the
    catalog's current one, as the rebuild reads it, so a product renamed today stays one row."""
    if len(facts["lines"]) != len(sale.get("lines", ())):
        raise ConflictError(
            "the sale's lines in the database differ from its event", sale_id=str(sale["sale_id"])
        )
    lines = [{**line, **extra} for line, extra in zip(sale.get("lines", ()), facts["lines"], strict=True)]
    merged = {key: facts[key] for key in ("cost", "register_name", "fiscal_status", "stock")}
    return {**sale, **merged, "lines": lines}


async def count_event(
    db: Database, tenant_id: uuid.UUID, state: MutableMapping[str, Any], event: str, payload: Any, tz: tzinfo
) -> set[str]:
    """Count one ``tenant`` stream event in ``state`` (a dict in the hub, a faust Table in the worker);
    returns the sections it changed. A sale event is enriched first (one query), unless it is counted
    already; a sale the database does not have is logged and skipped."""
    if isinstance(payload, msgspec.Struct):
        payload = msgspec.to_builtins(payload)
    if event in SALE_EVENTS:
        if str(payload["sale_id"]) in state["sales"]:
            return set()  # counted already: skip the query too
        facts = await sale_facts(db, tenant_id, uuid.UUID(str(payload["sale_id"])))
        if facts is None:
            log.warning(
                "dashboard %s: sale %s of an event is not in the database", tenant_id, payload["sale_id"]
            )
            return set()
        payload = enrich(payload, facts)
    return apply(state, event, payload, tz)
