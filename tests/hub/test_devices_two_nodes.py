"""Back-office device changes reach every hub node: two in-process nodes share one Postgres and one Redis.

The device agent's socket (and so its DeviceActors) is on node B; the manager works through node A's HTTP
API. A revocation closes B's socket (4401) and the token opens no socket anywhere again, even when it is
revoked while the agent connects, or while node A cannot publish. A change of binding or settings reloads
B's DeviceActor and B's printer lookups. A print job queued through node A (a sale's receipt, a reprint)
reaches the agent on node B, once.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from actors.device import GetDeviceStatus
from hub.auth.principal import Principal
from hub.events.redis_bus import BusUnavailableError
from hub.gateway import route
from schema.messages.control_notices import PrintJobQueued
from tests.hub.conftest import make_settings
from tests.hub.gateway.conftest import Client, World, make_world_tenant, running_hub
from tests.hub.gateway.test_devices import add_devices, job_states, next_directive, open_agent
from tests.hub.gateway.test_gateway import expect_close
from tests.hub.gateway.test_till import ok, open_till, stock_shop

TIMEOUT = 10.0


@pytest.fixture
async def nodes(pg_url: str, redis_url: str) -> AsyncIterator[tuple[World, World]]:
    """Node A and node B, each a World over the same tenants."""
    settings = make_settings(pg_url, redis_url=redis_url)
    async with running_hub(settings) as (host_a, services_a), running_hub(settings) as (host_b, services_b):
        suffix = uuid.uuid4().hex[:8]
        tenant = await make_world_tenant(services_a.db, f"n2-a-{suffix}")
        other = await make_world_tenant(services_a.db, f"n2-b-{suffix}")
        a, b = (
            World(
                url=f"ws://{host}/ws",
                http=f"http://{host}",
                db=services.db,
                a=tenant,
                b=other,
                services=services,
            )
            for host, services in ((host_a, services_a), (host_b, services_b))
        )
        try:
            yield a, b
        finally:
            for socket in [*a.sockets, *b.sockets]:
                await socket.close()


async def manager_call(node: World, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {node.a.tokens['manager']}"}
    async with httpx.AsyncClient(base_url=node.http) as http:
        return await http.request(method, f"/api/v1/devices/{path}", headers=headers, **kwargs)


async def close_code(client: Client, timeout: float = TIMEOUT) -> int:
    """The code the hub closes ``client`` with (frames on their way may come first)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                await client.recv(timeout)
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd is not None else 0


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = TIMEOUT) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def test_a_device_revoked_through_one_node_is_closed_on_the_other_and_stays_out(
    nodes: tuple[World, World],
) -> None:
    a, b = nodes
    devices = await add_devices(b, b.a)
    agent = await open_agent(b, devices)

    async def held_by(count: int) -> bool:
        return b.services.devices.control.holders(b.a.tenant_id) == count

    await eventually(lambda: held_by(3))  # the socket, and the scale's and the printer's actors (attaching)
    assert not a.services.devices.control.listening(a.a.tenant_id)  # nothing of the tenant's devices on A

    answer = await manager_call(a, "POST", f"{devices['agent']}/revoke")
    assert answer.status_code == 200 and answer.json()["status"] == "revoked"

    assert await close_code(agent) == 4401
    for node in (a, b):
        await expect_close(node, devices["token"], 4401)
    await eventually(lambda: held_by(2))  # the socket let go; B still listens for the two actors


async def test_a_device_revoked_while_it_connects_to_another_node_is_not_welcomed(
    nodes: tuple[World, World], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = nodes
    devices = await add_devices(b, b.a)
    real = route.authenticate
    revoked: list[int] = []

    async def revoked_meanwhile(socket: Any, services: Any) -> Principal:
        principal = await real(socket, services)
        if principal.device_id == devices["agent"] and not revoked:
            # The token was good a moment ago; the revocation commits on A before B listens to the tenant.
            revoked.append((await manager_call(a, "POST", f"{devices['agent']}/revoke")).status_code)
        return principal

    monkeypatch.setattr(route, "authenticate", revoked_meanwhile)
    await expect_close(b, devices["token"], 4401)
    assert revoked == [200]
    assert not [c for c in b.services.sockets if c.principal.device_id == devices["agent"]]
    assert b.services.devices.control.holders(b.a.tenant_id) == 0  # the refused socket holds nothing


async def test_a_revocation_whose_publish_fails_is_kept_acted_on_here_and_reaches_the_other_node(
    nodes: tuple[World, World], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = nodes
    devices = await add_devices(b, b.a)
    there = await open_agent(b, devices)
    here = await open_agent(a, devices, hello=False)  # the same agent, once more, on A

    async def away(*args: Any, **kwargs: Any) -> Any:
        raise BusUnavailableError("Redis is away (test)")

    monkeypatch.setattr(a.services.bus, "publish", away)
    answer = await manager_call(a, "POST", f"{devices['agent']}/revoke")
    assert answer.status_code == 200 and answer.json()["status"] == "revoked"
    assert await close_code(here) == 4401  # acted on here at once

    monkeypatch.undo()  # the bus is back: the outbox relay publishes the notice it could not
    assert await close_code(there, timeout=30) == 4401
    await expect_close(b, devices["token"], 4401)


async def test_a_device_changed_through_one_node_reloads_on_the_other(nodes: tuple[World, World]) -> None:
    a, b = nodes
    tenant_id, register_id = b.a.tenant_id, b.a.register_id
    devices = await add_devices(b, b.a)
    agent = await open_agent(b, devices)
    scale = str(devices["scale"])
    weight = {"device_id": scale, "grams": 250, "stable": True}
    ok(await agent.call("device.weight", weight))
    assert await b.services.devices.printer_of(tenant_id, register_id) == devices["printer"]  # kept on B

    renamed = await manager_call(a, "PATCH", scale, json={"register_id": None, "name": "Balanza 2"})
    assert renamed.status_code == 200, renamed.text
    unbound = await manager_call(a, "PATCH", str(devices["printer"]), json={"register_id": None})
    assert unbound.status_code == 200, unbound.text

    async def scale_reloaded() -> bool:
        frame = await agent.call("device.weight", weight)
        return frame["type"] == "error" and frame["code"] == "conflict"  # not bound to a register any more

    await eventually(scale_reloaded)
    view = await b.services.devices.ref(tenant_id, devices["scale"]).ask(GetDeviceStatus(), timeout=5)
    assert view.name == "Balanza 2" and view.register_id is None

    async def printer_forgotten() -> bool:
        return await b.services.devices.printer_of(tenant_id, register_id) is None

    await eventually(printer_forgotten)


async def test_a_job_queued_through_one_node_prints_on_the_agent_of_the_other_once(
    nodes: tuple[World, World],
) -> None:
    from devices.escpos.decode import decode

    a, b = nodes
    tenant_id, register = b.a.tenant_id, str(b.a.register_id)
    await stock_shop(a)
    devices = await add_devices(b, b.a)
    agent = await open_agent(b, devices)  # the printer's actor on B loads the (no) open jobs
    printer = str(devices["printer"])

    till = await open_till(a)  # the till, its RegisterActor and so the printer lookup are on A
    ok(await till.call("cash.open", {"register_id": register, "float_amount": 10_000}))
    ok(await till.call("cart.add", {"register_id": register, "code": a.a.barcode}))
    pay = {"register_id": register, "tenders": [{"kind": "card", "amount": 1090}]}
    sale = ok(await till.call("checkout", pay))
    receipt = await next_directive(agent, timeout=TIMEOUT)
    assert receipt["payload"]["kind"] == "receipt"
    assert f"Venta N° {sale['number']}" in decode(base64.b64decode(receipt["payload"]["data"])).text()
    first = receipt["payload"]["job_id"]
    ack = {"device_id": printer, "job_id": first, "outcome": "printed"}
    assert ok(await agent.call("print.ack", ack))["state"] == "printed"

    # The manager reprints it through A's back office: a new job, on B's agent too.
    async with httpx.AsyncClient(base_url=a.http) as http:
        headers = {"Authorization": f"Bearer {a.a.tokens['manager']}"}
        answer = await http.post(f"/api/v1/print-jobs/{first}/reprint", headers=headers)
    assert answer.status_code == 201, answer.text
    again = await next_directive(agent, timeout=TIMEOUT)
    assert again["payload"]["job_id"] == answer.json()["job_id"]
    assert again["payload"]["data"] == receipt["payload"]["data"]  # the back office's reprint: same bytes
    ack = {"device_id": printer, "job_id": again["payload"]["job_id"], "outcome": "printed"}
    assert ok(await agent.call("print.ack", ack))["state"] == "printed"

    # A notice heard again (delivery is at least once) prints nothing twice.
    for job_id in (first, again["payload"]["job_id"]):
        notice = PrintJobQueued(device_id=devices["printer"], job_id=uuid.UUID(job_id), origin="elsewhere")
        b.services.devices.heard(tenant_id, notice)
    with pytest.raises(TimeoutError):
        await next_directive(agent, timeout=1.0)
    assert await job_states(b) == ["printed", "printed"]
