"""The owner dashboard across two hub nodes: every screen gets each change once, whichever node it is on.

Both nodes run the tenant's DashboardActor (each has an owner's screen) and count the same events; only the
holder of the tenant's publisher lease (``hub.events.publisher_lease``) publishes. Before the lease, each
node published its own ``DashboardChanged``, and every screen got every change twice.

A node that rebuilds the dashboard sees the devices whose agent is connected to the other node as they are
(``hub.device_presence``); before, it asked only its own device actors and showed them disconnected.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actors.device import device_address
from tests.hub.gateway.conftest import Client, World
from tests.hub.gateway.test_dashboard import sell, subscribe_after
from tests.hub.gateway.test_devices import add_devices, open_agent
from tests.hub.gateway.test_till import ok, open_till, stock_shop
from tests.hub.test_devices_two_nodes import eventually, nodes  # noqa: F401  (the two nodes' fixture)

pytestmark = pytest.mark.postgres


async def _events_for(client: Client, seconds: float) -> list[dict[str, Any]]:
    """Every event frame the socket gets within ``seconds``."""
    frames: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while (left := until - loop.time()) > 0:
        try:
            frame = await client.recv(timeout=left)
        except TimeoutError:
            break
        if frame.get("type") == "event":
            frames.append(frame)
    return frames


async def test_each_screen_gets_one_change_per_sale_whichever_node_it_is_on(
    nodes: tuple[World, World],  # noqa: F811
) -> None:
    a, b = nodes
    await stock_shop(a)
    owners = []
    for node in (a, b):  # an owner's screen on each node: each node starts the tenant's DashboardActor
        owner = await open_till(node, "owner")
        await subscribe_after(owner, ok(await owner.call("dashboard.get")))
        owners.append(owner)

    register = str(a.a.register_id)
    till = await open_till(a)
    ok(await till.call("cash.open", {"register_id": register, "float_amount": 0}))
    receipt = await sell(till, register, [(a.a.barcode, 2)], "card")
    seen = await asyncio.gather(*(_events_for(owner, 2.0) for owner in owners))

    for frames in seen:
        changes = [f["payload"] for f in frames if f["event"] == "DashboardChanged"]
        sale = [c for c in changes if c.get("totals", {}).get("count") == 1]
        assert len(sale) == 1, f"one DashboardChanged for the sale per screen, got {len(sale)}"
        assert sale[0]["totals"]["total"] == receipt["total"]
    sold_at = next(f["seq"] for f in seen[0] if f["event"] == "SaleCompleted")
    # Whichever node answers, the snapshot holds the sale and says a position at or after it (a node that
    # does not publish keeps its position with the events it counts).
    for owner in owners:
        view = ok(await owner.call("dashboard.get"))
        assert view["totals"]["count"] == 1 and view["seq"] >= sold_at


async def test_a_device_connected_to_one_node_shows_connected_on_the_dashboard_the_other_builds(
    nodes: tuple[World, World],  # noqa: F811
) -> None:
    a, b = nodes
    tenant_id = a.a.tenant_id
    devices = await add_devices(a, a.a)
    agent = await open_agent(a, devices)  # the agent, and so its devices' actors, are on node A
    printer = str(devices["printer"])
    ok(await agent.call("device.status", {"device_id": printer, "online": True, "paper_near_end": True}))

    owner = await open_till(b, "owner")  # node B builds the tenant's dashboard now
    view = ok(await owner.call("dashboard.get"))
    assert b.services.actors.lookup(device_address(tenant_id, devices["printer"])) is None  # none on B
    shown = {d["device_id"]: d for d in view["devices"]}
    assert (shown[printer]["connected"], shown[printer]["online"], shown[printer]["paper_near_end"]) == (
        True,
        True,
        True,
    )
    assert shown[str(devices["scale"])]["connected"] is True
    assert shown[str(a.a.device_id)]["connected"] is False  # the world's own scale: no agent anywhere
    # A till on node B sees its register's devices as they are on A too.
    till = await open_till(b)
    status = ok(await till.call("devices.status", {"register_id": str(a.a.register_id)}))
    on_till = {d["device_id"]: d for d in status}
    assert on_till[printer]["connected"] is True and on_till[printer]["paper_near_end"] is True

    await agent.socket.close()  # the agent leaves node A: a dashboard B builds from now on shows it gone

    async def gone() -> bool:  # B's own actor of it (the till's question started one) knows no agent either
        view = await b.services.dashboards.device_status(tenant_id, devices["printer"])
        return view is None or not view.connected

    await eventually(gone)
