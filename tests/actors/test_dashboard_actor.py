"""DashboardActor on its own (a database, the local bus, an actor system and a clock we move): it rolls over
at midnight in the tenant's zone, coalesces bursts, and never consumes its own events."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from actors.dashboard import Dashboards, _Follower
from actors.runtime import ActorSystem
from hub.db import Database
from hub.events.bus import LocalBus, StreamEvent
from schema.messages.dashboard import DashboardChanged, DashboardView, GetDashboard
from schema.messages.devices import DeviceStatusView
from schema.models import Sale
from tests.support.tenants import TenantFixture, make_tenant

SANTIAGO = ZoneInfo("America/Santiago")


@dataclass
class Rig:
    db: Database
    bus: LocalBus
    dashboards: Dashboards
    tenant: TenantFixture
    now: list[datetime]  # the clock the dashboards read: now[0]
    changes: asyncio.Queue[StreamEvent]

    async def get(self) -> DashboardView:
        view: DashboardView = await self.dashboards.ref(self.tenant.tenant_id).ask(GetDashboard(), timeout=10)
        return view

    async def change(self, timeout: float = 5.0) -> DashboardChanged:
        async with asyncio.timeout(timeout):
            event = await self.changes.get()
        assert isinstance(event.payload, DashboardChanged)
        return event.payload


@pytest.fixture
async def rig(sqlite_db: Database) -> AsyncIterator[Rig]:
    tenant = await make_tenant(sqlite_db)
    bus = LocalBus()
    changes: asyncio.Queue[StreamEvent] = asyncio.Queue()

    def watch(event: StreamEvent) -> None:
        if event.event == "DashboardChanged":
            changes.put_nowait(event)

    await bus.subscribe(tenant.tenant_id, "tenant", watch)
    now = [datetime.now(UTC)]
    async with ActorSystem(idle_after=None) as actors:
        yield Rig(
            sqlite_db, bus, Dashboards(actors, sqlite_db, bus, clock=lambda: now[0]), tenant, now, changes
        )


async def test_midnight_in_the_tenants_zone_starts_a_new_day(rig: Rig) -> None:
    # make_tenant's sale, moved to a week ago: it is last week's figure for this hour.
    a_week_ago = rig.now[0] - timedelta(days=7)
    async with rig.db.tenant(rig.tenant.tenant_id) as session:
        await session.execute(update(Sale).values(created_at=a_week_ago))
    view = await rig.get()
    assert (await rig.change()).reset  # every start tells the clients to reload
    assert view.totals.count == 0 and view.day == rig.now[0].astimezone(SANTIAGO).date().isoformat()
    assert view.hours.last_week[a_week_ago.astimezone(SANTIAGO).hour] == 1290
    assert sum(view.hours.last_week) == 1290

    rig.now[0] += timedelta(days=1)  # past the next midnight in Santiago
    tomorrow = await rig.get()
    assert tomorrow.day == rig.now[0].astimezone(SANTIAGO).date().isoformat() != view.day
    assert (
        tomorrow.hours.last_week_day
        == (datetime.fromisoformat(tomorrow.day) - timedelta(days=7)).date().isoformat()
    )
    assert sum(tomorrow.hours.last_week) == 0
    change = await rig.change()
    assert change.reset and change.day == tomorrow.day
    assert tomorrow.seq >= 2  # the position of that reset event: clients apply what follows it


async def test_a_burst_of_events_makes_few_changes_and_ours_are_not_consumed(rig: Rig) -> None:
    await rig.get()
    await rig.change()  # the start's reset
    printer = str(rig.tenant.device_id)
    for n in range(200):
        status: dict[str, Any] = {"device_id": printer, "kind": "printer", "name": "Impresora caja 1",
                                  "connected": True, "online": True, "paper_out": n % 2 == 0,
                                  "detail": str(n)}  # fmt: skip
        await rig.bus.publish(rig.tenant.tenant_id, "tenant", "DeviceStatusChanged", status)
    seen: list[DashboardChanged] = []
    while not seen or seen[-1].devices is None or seen[-1].devices[0].detail != "199":
        seen.append(await rig.change())
    # The first change goes out at once, the other 199 together after 0.2 s: never one per event.
    assert 1 <= len(seen) <= 3, [c.devices[0].detail if c.devices else None for c in seen]
    assert seen[-1].devices is not None and seen[-1].devices[0].paper_out is False
    assert all(c.totals is None for c in seen)  # only the devices section travels
    view = await rig.get()
    assert view.devices[0].detail == "199"
    assert rig.changes.empty()  # and nothing more is published: no loop


def test_the_listener_passes_on_only_what_moves_the_dashboard() -> None:
    """Not its own DashboardChanged (they would come back as work), nor a scale's weights or a cart."""
    told: list[object] = []

    class Ref:
        def tell_nowait(self, message: object) -> None:
            told.append(message)

    follower = _Follower(Ref())  # type: ignore[arg-type]
    tenant = uuid.uuid4()
    names = [
        "DashboardChanged",
        "ScaleWeight",
        "CartChanged",
        "PriceChanged",
        "SaleCompleted",
        "PrintJobChanged",
    ]
    for name in names:
        transient = name == "ScaleWeight"
        follower(
            StreamEvent(tenant_id=tenant, stream="tenant", seq=1, epoch="e", event=name, transient=transient)
        )
    assert [m.event.event for m in told] == ["SaleCompleted", "PrintJobChanged"]  # type: ignore[attr-defined]


async def test_a_sale_event_of_an_unknown_sale_is_ignored(rig: Rig) -> None:
    before = await rig.get()
    ghost = {"sale_id": str(uuid.uuid4()), "register_id": str(rig.tenant.register_id), "created_at":
             rig.now[0].isoformat(), "total": 5000, "taxes": [], "lines": []}  # fmt: skip
    await rig.bus.publish(rig.tenant.tenant_id, "tenant", "SaleCompleted", ghost)
    after = await rig.get()  # handled after the event: the mailbox keeps order
    assert after.totals == before.totals


class SharedStatuses:
    """What other hub nodes share of their devices (``hub.device_presence``), in a dict."""

    refresh_seconds = 0.05

    def __init__(self) -> None:
        self.views: dict[uuid.UUID, DeviceStatusView] = {}

    async def share(self, tenant_id: uuid.UUID, view: DeviceStatusView) -> None:
        self.views[view.device_id] = view

    async def withdraw(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> None:
        self.views.pop(device_id, None)

    async def shared(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> DeviceStatusView | None:
        return self.views.get(device_id)


async def test_a_device_of_another_node_shows_connected_until_its_shared_status_is_gone(
    sqlite_db: Database,
) -> None:
    tenant = await make_tenant(sqlite_db)
    bus, shared = LocalBus(), SharedStatuses()
    changes: asyncio.Queue[DashboardChanged] = asyncio.Queue()

    def watch(event: StreamEvent) -> None:
        if event.event == "DashboardChanged" and isinstance(event.payload, DashboardChanged):
            changes.put_nowait(event.payload)

    await bus.subscribe(tenant.tenant_id, "tenant", watch)
    # make_tenant's printer, its agent connected to another node (no DeviceActor of it runs here).
    await shared.share(
        tenant.tenant_id,
        DeviceStatusView(
            device_id=tenant.device_id,
            kind="printer",
            name="Impresora caja 1",
            register_id=tenant.register_id,
            connected=True,
            online=True,
            paper_near_end=True,
        ),
    )
    async with ActorSystem(idle_after=None) as actors:
        dashboards = Dashboards(actors, sqlite_db, bus, presence=shared)
        view: DashboardView = await dashboards.ref(tenant.tenant_id).ask(GetDashboard(), timeout=10)
        assert [(d.connected, d.online, d.paper_near_end) for d in view.devices] == [(True, True, True)]

        shared.views.clear()  # that node was killed: it withdrew nothing, its record expired
        async with asyncio.timeout(5):
            while True:
                change = await changes.get()
                if change.devices is not None:
                    break
        assert [(d.connected, d.online, d.paper_near_end) for d in change.devices] == [(False, False, True)]
