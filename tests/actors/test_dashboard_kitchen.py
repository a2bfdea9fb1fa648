"""Kitchen ticket times on the dashboard against a real database, SQLite and Postgres.

A random run of ticket changes is written by ``actors.kitchen_tickets`` (``insert_ticket``, ``save_ticket``:
orders opened, bumped, items done, served tickets recalled, tickets of yesterday bumped today). The
``KitchenTicketTimed`` events they wrote are applied to a dashboard state as the actor applies them: late,
some twice, and across restarts that rebuild from the database while the events since an earlier stream
position are applied again on top (the actor subscribes before it rebuilds). At every restart and at the
end the incremental figures equal the rebuild's, and those equal a plain recomputation over the rows.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from actors.dashboard_load import load_state
from actors.dashboard_totals import apply, day_bounds, local_day, snapshot
from actors.kitchen import bumped, item_done, recalled
from actors.kitchen_tickets import TIMED_EVENT, insert_ticket, load_station, save_ticket
from hub.db import Database
from schema.messages.dashboard import KitchenStationTimes
from schema.messages.devices import DeviceStatusView
from schema.messages.kitchen import KitchenItemView, KitchenTicketView
from schema.models import KitchenStation, KitchenTicket, OutboxEvent
from schema.money import round_half_up
from tests.support.tenants import TenantFixture, make_tenant

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2025, 3, 3, 23, 30, tzinfo=UTC)  # 20:30 on a Monday in Santiago: the dashboard's "now"
DAY_START, DAY_END = day_bounds(local_day(NOW, SANTIAGO), SANTIAGO)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=5)
    try:
        yield database
    finally:
        await database.dispose()


async def no_devices(_tenant: uuid.UUID, _device: uuid.UUID) -> DeviceStatusView | None:
    return None


async def rebuild(db: Database, tenant: TenantFixture) -> dict[str, Any]:
    return await load_state(db, tenant.tenant_id, NOW, no_devices)


async def emitted(db: Database, tenant: TenantFixture) -> list[dict[str, Any]]:
    """Every KitchenTicketTimed written so far, in the order the relay publishes them."""
    async with db.tenant(tenant.tenant_id) as session:
        rows = await session.execute(
            select(OutboxEvent.payload)
            .where(OutboxEvent.stream == "tenant", OutboxEvent.event == TIMED_EVENT)
            .order_by(OutboxEvent.id)
        )
        return [dict(payload) for payload in rows.scalars()]


async def recompute(db: Database, tenant: TenantFixture) -> dict[str, tuple[int, ...]]:
    """Per station, today's tickets straight from their rows."""
    async with db.tenant(tenant.tenant_id) as session:
        rows = (await session.execute(select(KitchenTicket))).scalars().all()
    figures: dict[str, list[Any]] = {}
    aware = lambda m: m if m is None or m.tzinfo else m.replace(tzinfo=UTC)  # noqa: E731  (SQLite: naive)
    for row in rows:
        opened = aware(row.created_at)
        if not DAY_START <= opened < DAY_END:
            continue
        f = figures.setdefault(str(row.station_id), [0, 0, 0, [], []])
        f[0] += row.state != "served"
        f[1] += row.state == "ready"
        f[2] += row.state == "served"
        if row.ready_at is not None:
            f[3].append(int((aware(row.ready_at) - opened).total_seconds()))
        if row.state == "served":
            f[4].append(int((aware(row.served_at) - opened).total_seconds()))
    return {
        sid: (o, r, s, round_half_up(sum(p), len(p)) if p else 0, max(p, default=0),
              round_half_up(sum(w), len(w)) if w else 0, max(w, default=0))
        for sid, (o, r, s, p, w) in figures.items()
    }  # fmt: skip


def figures(rows: list[KitchenStationTimes]) -> dict[str, tuple[int, ...]]:
    return {
        str(k.station_id): (k.open, k.ready_waiting, k.served, k.prep_avg_s, k.prep_max_s, k.serve_avg_s,
                            k.serve_max_s)
        for k in rows if k.open or k.served
    }  # fmt: skip


def new_ticket(station: uuid.UUID, product: uuid.UUID, opened: datetime, items: int) -> KitchenTicketView:
    return KitchenTicketView(
        ticket_id=uuid.uuid4(),
        station_id=station,
        order_id=uuid.uuid4(),
        table=str(random.randint(1, 20)),
        items=[
            KitchenItemView(item_id=n, product_id=product, name="Pan amasado", quantity=1000)
            for n in range(1, items + 1)
        ],
        created_at=opened,
    )


@pytest.mark.parametrize("seed", [3, 11])
async def test_random_ticket_changes_applied_incrementally_equal_the_rebuild_from_the_database(
    db: Database, seed: int
) -> None:
    rng = random.Random(seed)
    tenant = await make_tenant(db)
    async with db.tenant(tenant.tenant_id) as session:
        extra = [
            KitchenStation(store_id=tenant.store_id, code=c, name=f"Estación {c}") for c in ("FRI", "BAR")
        ]
        session.add_all(extra)
    stations = [tenant.kitchen_station_id, *(s.id for s in extra)]
    views = {station: (await load_station(db, tenant.tenant_id, station))[0] for station in stations}
    state = await rebuild(db, tenant)
    assert {k.name for k in snapshot(state).kitchen} == {"Cocina caliente", "Estación FRI", "Estación BAR"}

    tickets: dict[uuid.UUID, KitchenTicketView] = {}
    applied, done = 0, {"restart": 0, "recall": 0, "repeat": 0, "yesterday": 0}
    clock = DAY_START + timedelta(hours=12)
    actions = ["open"] * 3 + ["bump"] * 5 + ["item"] * 2 + ["recall", "yesterday", "restart", "repeat"]
    for _ in range(70):
        clock += timedelta(seconds=rng.randint(1, 400), microseconds=rng.randint(0, 999_999))
        action = rng.choice(actions)
        live = [t for t in tickets.values() if t.state != "served"]
        served = [t for t in tickets.values() if t.state == "served"]
        if action == "open" or (action in ("bump", "item") and not live):
            ticket = new_ticket(rng.choice(stations[:2]), tenant.product_id, clock, rng.randint(1, 3))
            ticket = await insert_ticket(db, tenant.tenant_id, views[ticket.station_id], ticket)
        elif action == "yesterday":  # opened before midnight, bumped today: never today's figure
            ticket = new_ticket(stations[0], tenant.product_id, DAY_START - timedelta(minutes=5), 1)
            ticket = await insert_ticket(db, tenant.tenant_id, views[ticket.station_id], ticket)
            done[action] += 1
        elif action == "bump":
            before = rng.choice(live)
            ticket = await save_ticket(
                db, tenant.tenant_id, views[before.station_id], before, bumped(before, clock)
            )
        elif action == "item":
            before = rng.choice(live)
            after = item_done(before, rng.choice(before.items).item_id, clock)
            ticket = (
                before
                if after == before
                else await save_ticket(db, tenant.tenant_id, views[before.station_id], before, after)
            )
        elif action == "recall" and served:
            before = rng.choice(served)
            ticket = await save_ticket(
                db, tenant.tenant_id, views[before.station_id], before, recalled(before)
            )
            done[action] += 1
        elif action == "restart":
            # Subscribed at an earlier position, then rebuilt: what came since is applied again on top.
            events = await emitted(db, tenant)
            state = await rebuild(db, tenant)
            assert figures(snapshot(state).kitchen) == await recompute(db, tenant)
            applied = rng.randint(max(0, applied - 6), applied)
            for event in events[applied:]:
                assert apply(state, "KitchenTicketTimed", event, SANTIAGO) == set()  # the rebuild has it
            applied = len(events)
            done[action] += 1
            continue
        elif action == "repeat" and applied:  # the outbox delivers at least once
            event = (await emitted(db, tenant))[rng.randrange(applied)]
            assert apply(state, "KitchenTicketTimed", event, SANTIAGO) == set()
            done[action] += 1
            continue
        else:
            continue
        tickets[ticket.ticket_id] = ticket
        if rng.random() < 0.6:  # events sometimes arrive in a bunch, a little late
            events = await emitted(db, tenant)
            for event in events[applied:]:
                apply(state, "KitchenTicketTimed", event, SANTIAGO)
            applied = len(events)

    events = await emitted(db, tenant)
    for event in events[applied:]:
        apply(state, "KitchenTicketTimed", event, SANTIAGO)
    assert min(done.values()) >= 1, done  # the seed made every kind of thing happen
    assert all(len(json.dumps(e)) < 400 for e in events)  # small: every owner's screen receives it
    view = snapshot(state).kitchen
    assert view == snapshot(await rebuild(db, tenant)).kitchen
    expected = await recompute(db, tenant)
    assert figures(view) == expected
    assert sum(f[2] for f in expected.values()) >= 3 and sum(f[0] for f in expected.values()) >= 1
    for event in events:  # everything delivered once more changes nothing
        assert apply(state, "KitchenTicketTimed", event, SANTIAGO) == set()
    assert snapshot(state).kitchen == view
