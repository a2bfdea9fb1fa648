"""The kitchen's rows: how an order is routed, and what a station's KitchenActor reads and writes.

Every change of a station is one short transaction: the station's ``rev`` goes up by one (``UPDATE ...
RETURNING`` on its ``kitchen_settings`` row, which holds the row lock to the commit, so changes are
numbered in commit order and without gaps even if two hub nodes drive the same station), the ticket is
written, and its outbox event goes in with it: the event leaves after the commit, and never for a change
that rolled back (its rev rolled back too).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from actors.dashboard_totals import KITCHEN_EVENT
from actors.kitchen_pg import ProductRoutes, route_rows, write_change, write_ticket
from hub.db import Database, tenant_of
from hub.events.outbox import emit
from schema.errors import ConflictError, NotFoundError
from schema.messages.dashboard import KitchenTicketTimed
from schema.messages.kitchen import KitchenItemView, KitchenTicketView, OrderItem, StationView
from schema.models import KitchenItem, KitchenRoute, KitchenSettings, KitchenStation, KitchenTicket, Product
from schema.models.kitchen import DEFAULT_LATE_AFTER_S, DEFAULT_WARN_AFTER_S

TICKET_EVENT = "KitchenTicketChanged"
STATION_EVENT = "KitchenStationChanged"
TIMED_EVENT = KITCHEN_EVENT  # on ``tenant``: a ticket's state and times, for the owner's dashboard


class NoStationError(ConflictError):
    """The store has no kitchen station to send the order to."""

    code = "no_station"


@dataclass(frozen=True, slots=True)
class RoutedItem:
    """One ordered item as its station will show it."""

    product_id: uuid.UUID
    name: str
    quantity: int
    modifiers: tuple[str, ...]
    note: str


def stream_of(station_id: uuid.UUID) -> str:
    return f"kitchen:{station_id}"


def utc(moment: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes (stored as UTC): make them aware, so views compare and encode
    the same before and after a reload."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


# -- routing ---------------------------------------------------------------------------------------------


async def route_order(
    db: Database, tenant_id: uuid.UUID, store_id: uuid.UUID, items: Sequence[OrderItem]
) -> list[tuple[uuid.UUID, list[RoutedItem]]]:
    """Each station of the store that gets something, by station code, with its items in order."""
    wanted = {item.product_id for item in items}
    async with db.tenant(tenant_id) as session:
        if db.is_postgres:
            stations, products = await route_rows(session, tenant_id, store_id, list(wanted))
        else:
            stations, products = await _route_rows(session, store_id, wanted)
    if not stations:
        raise NoStationError("this store has no kitchen station", store_id=str(store_id))
    missing = wanted - products.keys()
    if missing:
        raise NotFoundError("product not found", product_id=str(sorted(missing)[0]))
    by_station: dict[uuid.UUID, list[RoutedItem]] = {}
    for item in items:
        name, routed = products[item.product_id]
        # No route (or, defensively, one to a station of another store): the store's first station.
        station = routed if routed is not None and routed in stations else stations[0]
        by_station.setdefault(station, []).append(
            RoutedItem(
                product_id=item.product_id,
                name=name,
                quantity=item.quantity,
                modifiers=tuple(item.modifiers),
                note=item.note,
            )
        )
    return [(station, by_station[station]) for station in stations if station in by_station]


async def _route_rows(
    session: AsyncSession, store_id: uuid.UUID, wanted: set[uuid.UUID]
) -> tuple[list[uuid.UUID], ProductRoutes]:
    """``actors.kitchen_pg.route_rows`` with portable statements (the embedded SQLite)."""
    stations = list(
        (
            await session.execute(
                select(KitchenStation.id)
                .where(KitchenStation.store_id == store_id)
                .order_by(KitchenStation.code, KitchenStation.id)
            )
        ).scalars()
    )
    found = await session.execute(
        select(Product.id, Product.name, Product.category_id).where(Product.id.in_(wanted))
    )
    routed = await session.execute(
        select(KitchenRoute.category_id, KitchenRoute.station_id).where(KitchenRoute.store_id == store_id)
    )
    routes: dict[uuid.UUID, uuid.UUID] = dict(routed.tuples().all())
    products = {
        row.id: (row.name, routes.get(row.category_id) if row.category_id else None) for row in found.all()
    }
    return stations, products


# -- reading -------------------------------------------------------------------------------------------


def ticket_view(row: KitchenTicket, items: Sequence[KitchenItem]) -> KitchenTicketView:
    return KitchenTicketView(
        ticket_id=row.id,
        station_id=row.station_id,
        order_id=row.order_id,
        table=row.table_label,
        server=row.server,
        course=row.course,
        note=row.note,
        state=row.state,  # type: ignore[arg-type]  # the CHECK constraint keeps it to the four states
        items=[
            KitchenItemView(
                item_id=item.line_no,
                product_id=item.product_id,
                name=item.name,
                quantity=item.quantity,
                modifiers=list(item.modifiers or []),
                note=item.note,
                state=item.state,  # type: ignore[arg-type]
            )
            for item in sorted(items, key=lambda i: i.line_no)
        ],
        created_at=utc(row.created_at) or row.created_at,
        started_at=utc(row.started_at),
        ready_at=utc(row.ready_at),
        served_at=utc(row.served_at),
        rev=row.rev,
    )


async def _views(session: AsyncSession, rows: Sequence[KitchenTicket]) -> list[KitchenTicketView]:
    if not rows:
        return []
    items: dict[uuid.UUID, list[KitchenItem]] = {row.id: [] for row in rows}
    found = await session.execute(select(KitchenItem).where(KitchenItem.ticket_id.in_(list(items))))
    for item in found.scalars():
        items[item.ticket_id].append(item)
    return [ticket_view(row, items[row.id]) for row in rows]


async def _settings(session: AsyncSession, station_id: uuid.UUID) -> KitchenSettings:
    """The station's settings row, made with the defaults the first time (by whichever node gets there)."""
    tenant_id = tenant_of(session)
    row = await session.get(KitchenSettings, (tenant_id, station_id))
    if row is None:
        insert_ = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        await session.execute(
            insert_(KitchenSettings)
            .values(
                tenant_id=tenant_id,
                station_id=station_id,
                warn_after_s=DEFAULT_WARN_AFTER_S,
                late_after_s=DEFAULT_LATE_AFTER_S,
                rev=0,
                settings_rev=0,
                updated_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing()
        )
        row = await session.get(KitchenSettings, (tenant_id, station_id))
    assert row is not None
    return row


async def load_station(
    db: Database, tenant_id: uuid.UUID, station_id: uuid.UUID
) -> tuple[StationView, list[KitchenTicketView], int]:
    """The station (with its thresholds), its open tickets (oldest first) and its rev."""
    async with db.tenant(tenant_id) as session:
        station = await session.get(KitchenStation, (tenant_id, station_id))
        if station is None:
            raise NotFoundError("kitchen station not found", station_id=str(station_id))
        settings = await _settings(session, station_id)
        rows = (
            await session.execute(
                select(KitchenTicket)
                .where(KitchenTicket.station_id == station_id, KitchenTicket.state != "served")
                .order_by(KitchenTicket.created_at, KitchenTicket.id)
            )
        ).scalars()
        tickets = await _views(session, list(rows))
        view = StationView(
            station_id=station.id,
            store_id=station.store_id,
            code=station.code,
            name=station.name,
            warn_after_s=settings.warn_after_s,
            late_after_s=settings.late_after_s,
            rev=settings.settings_rev,
        )
    return view, tickets, settings.rev


async def order_ticket(
    db: Database, tenant_id: uuid.UUID, station_id: uuid.UUID, order_id: uuid.UUID
) -> KitchenTicketView | None:
    """The station's ticket of that order, if it was sent before (open or served)."""
    async with db.tenant(tenant_id) as session:
        row = (
            await session.execute(
                select(KitchenTicket).where(
                    KitchenTicket.order_id == order_id, KitchenTicket.station_id == station_id
                )
            )
        ).scalar_one_or_none()
        return None if row is None else (await _views(session, [row]))[0]


async def last_served(
    db: Database, tenant_id: uuid.UUID, station_id: uuid.UUID, since: datetime
) -> KitchenTicketView | None:
    """The station's most recently served ticket, if it was served after ``since``."""
    async with db.tenant(tenant_id) as session:
        row = (
            await session.execute(
                select(KitchenTicket)
                .where(
                    KitchenTicket.station_id == station_id,
                    KitchenTicket.state == "served",
                    KitchenTicket.served_at >= since,
                )
                .order_by(KitchenTicket.served_at.desc(), KitchenTicket.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        return None if row is None else (await _views(session, [row]))[0]


# -- writing -------------------------------------------------------------------------------------------


async def current_rev(db: Database, tenant_id: uuid.UUID, station_id: uuid.UUID) -> int:
    """The station's last committed change number (0 before any)."""
    async with db.tenant(tenant_id) as session:
        value = await session.scalar(
            select(KitchenSettings.rev).where(KitchenSettings.station_id == station_id)
        )
    return int(value or 0)


async def next_rev(session: AsyncSession, station_id: uuid.UUID) -> int:
    """The station's next change number; the UPDATE holds the settings row's lock until commit."""
    bump = (
        update(KitchenSettings)
        .where(KitchenSettings.station_id == station_id)
        .values(rev=KitchenSettings.rev + 1)
        .returning(KitchenSettings.rev)
    )
    value = (await session.execute(bump)).scalar_one_or_none()
    if value is None:  # no settings row yet (the actor makes it when it starts; a deleted station has none)
        await _settings(session, station_id)
        value = (await session.execute(bump)).scalar_one()
    return int(value)


async def insert_ticket(
    db: Database, tenant_id: uuid.UUID, station: StationView, ticket: KitchenTicketView
) -> KitchenTicketView:
    """Write a new ticket of ``station`` (the actor's, so no lookup) with its items and its events; raises
    IntegrityError if its order has one here, or if the station is gone."""
    async with db.tenant(tenant_id) as session:
        if db.is_postgres:
            rev = await write_ticket(
                session,
                tenant_id,
                station.store_id,
                ticket,
                _timed(ticket, station),
                _names(ticket),
                ticket.created_at,
            )
            if rev is not None:
                return _with_rev(ticket, rev)
        rev = await next_rev(session, ticket.station_id)
        ticket = _with_rev(ticket, rev)
        session.add(
            KitchenTicket(
                id=ticket.ticket_id,
                station_id=ticket.station_id,
                store_id=station.store_id,
                order_id=ticket.order_id,
                table_label=ticket.table,
                server=ticket.server,
                course=ticket.course,
                note=ticket.note,
                state=ticket.state,
                rev=rev,
                created_at=ticket.created_at,
            )
        )
        await session.flush()  # the ticket before its items (no ORM relationship orders the inserts)
        session.add_all(
            KitchenItem(
                ticket_id=ticket.ticket_id,
                line_no=item.item_id,
                product_id=item.product_id,
                name=item.name,
                quantity=item.quantity,
                modifiers=list(item.modifiers),
                note=item.note,
                state=item.state,
            )
            for item in ticket.items
        )
        emit(session, stream_of(ticket.station_id), TICKET_EVENT, ticket)
        emit(session, "tenant", TIMED_EVENT, _timed(ticket, station))
    return ticket


async def save_ticket(
    db: Database,
    tenant_id: uuid.UUID,
    station: StationView,
    before: KitchenTicketView,
    after: KitchenTicketView,
) -> KitchenTicketView:
    """Write the ticket's new state and times, the items whose state changed, and its event."""
    async with db.tenant(tenant_id) as session:
        if db.is_postgres:
            now = datetime.now(UTC)
            rev = await write_change(
                session, tenant_id, before, after, _timed(after, station), _names(after), now
            )
            if rev is not None:
                return _with_rev(after, rev)
        rev = await next_rev(session, after.station_id)
        after = _with_rev(after, rev)
        await session.execute(
            update(KitchenTicket)
            .where(KitchenTicket.id == after.ticket_id)
            .values(
                state=after.state,
                rev=rev,
                started_at=after.started_at,
                ready_at=after.ready_at,
                served_at=after.served_at,
            )
        )
        was = {item.item_id: item.state for item in before.items}
        for item in after.items:
            if was.get(item.item_id) != item.state:
                await session.execute(
                    update(KitchenItem)
                    .where(KitchenItem.ticket_id == after.ticket_id, KitchenItem.line_no == item.item_id)
                    .values(state=item.state)
                )
        emit(session, stream_of(after.station_id), TICKET_EVENT, after)
        emit(session, "tenant", TIMED_EVENT, _timed(after, station))
    return after


async def save_thresholds(
    db: Database, tenant_id: uuid.UUID, station: StationView, warn_after_s: int, late_after_s: int
) -> StationView:
    async with db.tenant(tenant_id) as session:
        rev = await next_rev(session, station.station_id)
        await session.execute(
            update(KitchenSettings)
            .where(KitchenSettings.station_id == station.station_id)
            .values(
                warn_after_s=warn_after_s,
                late_after_s=late_after_s,
                settings_rev=rev,
                updated_at=datetime.now(UTC),
            )
        )
        view = StationView(
            station_id=station.station_id,
            store_id=station.store_id,
            code=station.code,
            name=station.name,
            warn_after_s=warn_after_s,
            late_after_s=late_after_s,
            rev=rev,
        )
        emit(session, stream_of(station.station_id), STATION_EVENT, view)
    return view


def _names(ticket: KitchenTicketView) -> tuple[str, str, str]:
    """The station's stream and the two events a ticket change writes (``actors.kitchen_pg``)."""
    return stream_of(ticket.station_id), TICKET_EVENT, TIMED_EVENT


def _with_rev(ticket: KitchenTicketView, rev: int) -> KitchenTicketView:
    return msgspec.structs.replace(ticket, rev=rev)


def _timed(ticket: KitchenTicketView, station: StationView) -> KitchenTicketTimed:
    """The dashboard's small copy of a ticket change (every owner's screen gets it: no items)."""
    return KitchenTicketTimed(
        ticket_id=ticket.ticket_id,
        station_id=ticket.station_id,
        station_name=station.name,
        store_id=station.store_id,
        state=ticket.state,
        rev=ticket.rev,
        created_at=ticket.created_at,
        ready_at=ticket.ready_at,
        served_at=ticket.served_at,
    )
