"""A kitchen station's actor on each of two hub nodes: what one changes, the other's state answer includes.

A KDS that reconnects to the other node asks that node's actor for the station's state and follows the
stream from the position in the answer; the answer must hold every change up to that position, even one
made through the first node, or the screen would never see it."""

from __future__ import annotations

from actors.deps import ActorDeps
from actors.kitchen import GetState, SetThresholds, kitchen_ref
from actors.runtime import ActorSystem
from hub.db import Database
from hub.events.bus import LocalBus
from hub.events.outbox import OutboxRelay
from schema.messages.kitchen import StationState
from tests.support.tenants import make_tenant


async def test_a_change_made_through_one_node_is_in_the_others_state(sqlite_db: Database) -> None:
    tenant = await make_tenant(sqlite_db)
    bus = LocalBus()  # shared, as the Redis bus is between nodes
    sqlite_db.after_outbox_commit = OutboxRelay(sqlite_db, bus).committed  # events go out after commit
    deps = ActorDeps(db=sqlite_db, bus=bus)
    async with ActorSystem(idle_after=None) as node1, ActorSystem(idle_after=None) as node2:
        on1 = kitchen_ref(node1, deps, tenant.tenant_id, tenant.kitchen_station_id)
        on2 = kitchen_ref(node2, deps, tenant.tenant_id, tenant.kitchen_station_id)
        before: StationState = await on2.ask(GetState(), timeout=10)
        await on1.ask(SetThresholds(120, 300), timeout=10)
        after: StationState = await on2.ask(GetState(), timeout=10)
    assert after.seq > before.seq  # the change's event is behind the answer's position ...
    assert (after.station.warn_after_s, after.station.late_after_s) == (120, 300)  # ... and in the answer
    assert after.rev == before.rev + 1
