"""The kitchen's one-statement path on Postgres (``actors.kitchen_pg``) writes what the portable path writes.

Each test runs the fast path and the portable one (forced by making the fast path report "nothing written",
which is how it hands over when a station has no settings row) on the same Postgres database and compares
the rows and events; and on SQLite, routing must answer as on Postgres.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError

import actors.kitchen_tickets as kitchen_tickets
from actors.kitchen import bumped, item_done
from actors.kitchen_pg import write_change
from actors.kitchen_tickets import NoStationError, insert_ticket, load_station, route_order, save_ticket
from hub.db import Database, WrittenEvent, outbox_written
from schema.errors import NotFoundError
from schema.messages.kitchen import KitchenItemView, KitchenTicketView, OrderItem, StationView
from schema.models import Category, KitchenRoute, KitchenSettings, KitchenStation, OutboxEvent, Product
from tests.support.tenants import TenantFixture, make_tenant


class Written:
    """What the transactions handed to the relay after their commits."""

    def __init__(self) -> None:
        self.events: list[WrittenEvent] = []

    async def __call__(self, tenant_id: uuid.UUID, written: list[WrittenEvent]) -> None:
        self.events += written


def _ticket(world: TenantFixture, *, note: str = "sin sal") -> KitchenTicketView:
    items = [
        KitchenItemView(item_id=1, product_id=world.product_id, name="Lomo", quantity=2000,
                        modifiers=["tostado", "sin cebolla"], note="para compartir"),
        KitchenItemView(item_id=2, product_id=world.product_id, name="Papas", quantity=1000),
    ]  # fmt: skip
    return KitchenTicketView(
        ticket_id=uuid.uuid4(),
        station_id=world.kitchen_station_id,
        order_id=uuid.uuid4(),
        table="Mesa 4",
        server="Ana",
        course="2",
        note=note,
        items=items,
        created_at=datetime.now(UTC),
    )


def _portable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the fast path hand over, as it does for a station without settings row."""

    async def nothing_written(*_args: Any) -> None:
        return None

    monkeypatch.setattr(kitchen_tickets, "write_ticket", nothing_written)
    monkeypatch.setattr(kitchen_tickets, "write_change", nothing_written)


async def _rows(db: Database, world: TenantFixture, ticket_id: uuid.UUID) -> dict[str, Any]:
    """The ticket's row and items as stored, without the ids that differ from ticket to ticket."""
    async with db.tenant(world.tenant_id) as session:
        ticket = (
            (await session.execute(text("SELECT * FROM kitchen_tickets WHERE id = :id"), {"id": ticket_id}))
            .mappings()
            .one()
        )
        items = (
            await session.execute(
                text("SELECT * FROM kitchen_items WHERE ticket_id = :id ORDER BY line_no"), {"id": ticket_id}
            )
        ).mappings()
        return {
            "ticket": {k: v for k, v in ticket.items() if k not in ("id", "order_id", "rev", "created_at")},
            "items": [{k: v for k, v in item.items() if k != "ticket_id"} for item in items],
        }


async def _stored_events(db: Database, world: TenantFixture, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    async with db.tenant(world.tenant_id) as session:
        rows = await session.execute(select(OutboxEvent).where(OutboxEvent.id.in_(ids)))
        return {row.id: (row.stream, row.event, row.payload) for row in rows.scalars()}


def _comparable(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k not in ("ticket_id", "order_id", "rev", "created_at")}


async def _station_recorded(db: Database) -> tuple[TenantFixture, Written, StationView, int]:
    """A tenant whose transactions' events are recorded, and its station (view and rev) as loaded."""
    world = await make_tenant(db)
    written = Written()
    db.after_outbox_commit = written
    station, _, rev = await load_station(db, world.tenant_id, world.kitchen_station_id)
    return world, written, station, rev


@pytest.mark.postgres
async def test_a_new_ticket_is_written_as_the_portable_path_writes_it(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, written, station, rev = await _station_recorded(pg_db)

    fast = await insert_ticket(pg_db, world.tenant_id, station, _ticket(world))
    fast_events = list(written.events)
    _portable(monkeypatch)
    slow = await insert_ticket(pg_db, world.tenant_id, station, _ticket(world))
    slow_events = written.events[len(fast_events) :]

    assert (fast.rev, slow.rev) == (rev + 1, rev + 2)  # numbered in turn, whichever path wrote
    assert await _rows(pg_db, world, fast.ticket_id) == await _rows(pg_db, world, slow.ticket_id)
    assert [(e.stream, e.event) for e in fast_events] == [(e.stream, e.event) for e in slow_events]
    assert [e.stream for e in fast_events] == [f"kitchen:{world.kitchen_station_id}", "tenant"]
    for fast_event, slow_event in zip(fast_events, slow_events, strict=True):
        assert fast_event.payload["rev"] == fast.rev
        assert _comparable(fast_event.payload) == _comparable(slow_event.payload)
    # What was published straight after the commit is what the relay's sweep would read from the outbox.
    stored = await _stored_events(pg_db, world, [e.id for e in fast_events])
    assert stored == {e.id: (e.stream, e.event, e.payload) for e in fast_events}


@pytest.mark.postgres
async def test_a_ticket_change_is_written_as_the_portable_path_writes_it(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, written, station, _ = await _station_recorded(pg_db)
    now = datetime.now(UTC)

    async def change(ticket: KitchenTicketView) -> tuple[KitchenTicketView, list[WrittenEvent]]:
        """item 1 done, then a bump: two changes, the second changing only item 2."""
        mark = len(written.events)
        one = await save_ticket(pg_db, world.tenant_id, station, ticket, item_done(ticket, 1, now))
        two = await save_ticket(pg_db, world.tenant_id, station, one, bumped(one, now))
        return two, written.events[mark:]

    fast, fast_events = await change(await insert_ticket(pg_db, world.tenant_id, station, _ticket(world)))
    first = await insert_ticket(pg_db, world.tenant_id, station, _ticket(world))
    _portable(monkeypatch)
    slow, slow_events = await change(first)

    assert fast.state == slow.state == "ready"
    assert [i.state for i in fast.items] == ["ready", "ready"]
    assert await _rows(pg_db, world, fast.ticket_id) == await _rows(pg_db, world, slow.ticket_id)
    assert [(e.stream, e.event) for e in fast_events] == [(e.stream, e.event) for e in slow_events]
    assert [e.payload["rev"] for e in fast_events] == [fast.rev - 1, fast.rev - 1, fast.rev, fast.rev]
    for fast_event, slow_event in zip(fast_events, slow_events, strict=True):
        assert _comparable(fast_event.payload) == _comparable(slow_event.payload)
    stored = await _stored_events(pg_db, world, [e.id for e in fast_events])
    assert stored == {e.id: (e.stream, e.event, e.payload) for e in fast_events}
    _, tickets, _ = await load_station(pg_db, world.tenant_id, world.kitchen_station_id)
    assert next(t for t in tickets if t.ticket_id == fast.ticket_id) == fast


@pytest.mark.postgres
async def test_an_order_sent_twice_to_a_station_is_refused_and_nothing_is_written(pg_db: Database) -> None:
    world = await make_tenant(pg_db)
    station, _, _ = await load_station(pg_db, world.tenant_id, world.kitchen_station_id)
    ticket = await insert_ticket(pg_db, world.tenant_id, station, _ticket(world))
    again = msgspec.structs.replace(_ticket(world), order_id=ticket.order_id)
    with pytest.raises(IntegrityError):  # as the portable path raises it: the actor finds the first ticket
        await insert_ticket(pg_db, world.tenant_id, station, again)
    _, tickets, rev = await load_station(pg_db, world.tenant_id, world.kitchen_station_id)
    assert rev == ticket.rev  # the failed statement's rev rolled back with it
    assert [t.ticket_id for t in tickets if t.order_id == ticket.order_id] == [ticket.ticket_id]


@pytest.mark.postgres
async def test_a_station_without_settings_row_gets_one_through_the_portable_path(pg_db: Database) -> None:
    world = await make_tenant(pg_db)
    station, _, _ = await load_station(pg_db, world.tenant_id, world.kitchen_station_id)
    async with pg_db.tenant(world.tenant_id) as session:
        await session.execute(delete(KitchenSettings).where(KitchenSettings.station_id == station.station_id))
    ticket = await insert_ticket(pg_db, world.tenant_id, station, _ticket(world))
    assert ticket.rev == 1
    _, tickets, rev = await load_station(pg_db, world.tenant_id, world.kitchen_station_id)
    assert rev == 1 and ticket.ticket_id in {t.ticket_id for t in tickets}


@pytest.mark.postgres
async def test_a_change_of_a_ticket_that_is_gone_writes_nothing(pg_db: Database) -> None:
    world = await make_tenant(pg_db)
    station, _, rev = await load_station(pg_db, world.tenant_id, world.kitchen_station_id)
    ghost = _ticket(world)
    async with pg_db.tenant(world.tenant_id) as session:
        timed, names = kitchen_tickets._timed(ghost, station), kitchen_tickets._names(ghost)
        now = datetime.now(UTC)
        answer = await write_change(session, world.tenant_id, ghost, bumped(ghost, now), timed, names, now)
        assert answer is None
        assert not outbox_written(session)
    _, _, after = await load_station(pg_db, world.tenant_id, world.kitchen_station_id)
    assert after == rev


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db(request: pytest.FixtureRequest) -> Database:
    db: Database = request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")
    return db


async def test_routing_answers_alike_on_both_databases(any_db: Database) -> None:
    world = await make_tenant(any_db)
    async with any_db.tenant(world.tenant_id) as session:
        # "BAR" sorts before the tenant's station ("HOT"): it gets the items no route sends elsewhere.
        bar = KitchenStation(id=uuid.uuid4(), store_id=world.store_id, code="BAR", name="Barra")
        drinks = Category(id=uuid.uuid4(), name="Bebidas", sort=2)
        session.add_all([bar, drinks])
        await session.flush()
        juice = Product(id=uuid.uuid4(), sku="JUGO", name="Jugo", search_name="jugo", price=1500,
                        tax_class="cl_iva", category_id=drinks.id)  # fmt: skip
        loose = Product(
            id=uuid.uuid4(), sku="PAN", name="Pan", search_name="pan", price=500, tax_class="cl_iva"
        )
        session.add_all([juice, loose])
        await session.flush()
        session.add(KitchenRoute(store_id=world.store_id, category_id=drinks.id, station_id=bar.id))
    order = [
        OrderItem(product_id=world.product_id, quantity=2000, note="bien cocido"),
        OrderItem(product_id=juice.id),
        OrderItem(product_id=loose.id, modifiers=["tostado"]),
    ]
    routed = await route_order(any_db, world.tenant_id, world.store_id, order)
    shown = [
        (station, [(i.product_id, i.quantity, i.modifiers, i.note) for i in items])
        for station, items in routed
    ]
    assert shown == [
        (bar.id, [(juice.id, 1000, (), ""), (loose.id, 1000, ("tostado",), "")]),  # no route: first by code
        (world.kitchen_station_id, [(world.product_id, 2000, (), "bien cocido")]),  # the tenant's route
    ]  # fmt: skip
    assert routed[0][1][0].name == "Jugo"

    with pytest.raises(NotFoundError):
        await route_order(any_db, world.tenant_id, world.store_id, [OrderItem(product_id=uuid.uuid4())])
    other = await make_tenant(any_db)  # another tenant's product is not found either
    with pytest.raises(NotFoundError):
        await route_order(any_db, world.tenant_id, world.store_id, [OrderItem(product_id=other.product_id)])
    with pytest.raises(NoStationError):  # another tenant's store has no station of this tenant
        await route_order(any_db, world.tenant_id, other.store_id, order[:1])
