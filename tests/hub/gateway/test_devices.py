"""The device agent's side of the gateway over real sockets: hello, weights to the till, print queue,
revocation.

The agent here is the test itself speaking the protocol (``schema.messages.devices``), so every refusal
can be provoked; the real agent (``devices.agent``) is tested against a real hub in tests/devices.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select
from websockets.exceptions import ConnectionClosed

from actors.device import EnqueueJob
from hub.auth.tokens import bearer_token, digest, new_secret
from schema.models import Device, PrintJob
from tests.hub.gateway.conftest import Client, TenantWorld, World, connect
from tests.hub.gateway.test_gateway import expect_close
from tests.hub.gateway.test_till import ok, open_till, refused, stock_shop


async def add_devices(world: World, tenant: TenantWorld) -> dict[str, Any]:
    """An agent (with its token), a scale and a printer bound to the tenant's register."""
    secret = new_secret()
    ids = {"agent": uuid.uuid4(), "scale": uuid.uuid4(), "printer": uuid.uuid4()}
    async with world.db.tenant(tenant.tenant_id) as session:
        session.add(
            Device(
                id=ids["agent"],
                store_id=tenant.store_id,
                kind="agent",
                name="Agente",
                token_hash=digest(secret),
            )
        )
        for kind in ("scale", "printer"):
            session.add(
                Device(
                    id=ids[kind],
                    store_id=tenant.store_id,
                    register_id=tenant.register_id,
                    kind=kind,
                    name=kind,
                )
            )
    return ids | {"token": bearer_token("shd", tenant.tenant_id, secret)}


async def open_agent(world: World, devices: dict[str, Any], *, hello: bool = True) -> Client:
    socket = await connect(world, devices["token"])
    world.sockets.append(socket)
    agent = Client(socket)
    assert (await agent.recv())["type"] == "welcome"
    if hello:
        welcome = ok(await agent.call("agent.hello", {"agent": "test", "devices": [
            {"device_id": str(devices["scale"]), "kind": "scale"},
            {"device_id": str(devices["printer"]), "kind": "printer"}]}))  # fmt: skip
        assert [d["accepted"] for d in welcome["devices"]] == [True, True], welcome
    return agent


async def next_directive(agent: Client, timeout: float = 5.0) -> dict[str, Any]:
    """The oldest directive not taken yet (one may have come before the reply that ``call`` waited for)."""
    taken: list[dict[str, Any]] = agent.__dict__.setdefault("taken", [])
    async with asyncio.timeout(timeout):
        while True:
            for frame in agent.frames:
                if frame["type"] == "directive" and not any(frame is t for t in taken):
                    taken.append(frame)
                    return frame
            await agent.recv()


async def job_states(world: World) -> list[str]:
    async with world.db.tenant(world.a.tenant_id) as session:
        return list((await session.execute(select(PrintJob.state).order_by(PrintJob.created_at))).scalars())


async def test_weights_travel_from_the_agent_to_the_till_and_sell(world: World) -> None:
    shop = await stock_shop(world)
    devices = await add_devices(world, world.a)
    register = str(world.a.register_id)
    till = await open_till(world)
    assert (await till.call("subscribe", {"stream": f"register:{register}"}))["type"] == "subscribed"
    ok(await till.call("cash.open", {"register_id": register, "float_amount": 0}))
    agent = await open_agent(world, devices)

    ok(await agent.call("device.weight", {"device_id": str(devices["scale"]), "grams": 455, "stable": True}))
    async with asyncio.timeout(5):
        while True:
            frame = await till.recv()
            if frame["type"] == "live" and frame["event"] == "ScaleWeight":
                break
    assert frame["payload"]["grams"] == 455 and frame["payload"]["stable"] is True
    assert "seq" not in frame  # transient: never replayed, no sequence number
    cart = ok(await till.call("cart.add", {"register_id": register, "product_id": str(shop["weighed_id"])}))
    assert cart["lines"][0]["quantity"] == 455

    add = {"register_id": register, "product_id": str(shop["weighed_id"])}
    # An overloaded scale's number is never sold by, whatever it says about stability.
    ok(await agent.call("device.weight", {"device_id": str(devices["scale"]), "grams": 455, "stable": True,
                                          "overload": True}))  # fmt: skip
    refused(await till.call("cart.add", add), "scale_unstable")
    # A reading the agent kept while the hub was away is as old as it says: stale.
    ok(await agent.call("device.weight", {"device_id": str(devices["scale"]), "grams": 455, "stable": True,
                                          "age_ms": 5000}))  # fmt: skip
    refused(await till.call("cart.add", add), "scale_stale")
    assert len(ok(await till.call("cart.get", {"register_id": register}))["lines"]) == 1


async def test_print_queue_survives_the_agent_and_is_acknowledged_once(world: World) -> None:
    devices = await add_devices(world, world.a)
    register = str(world.a.register_id)
    till = await open_till(world)
    assert (await till.call("subscribe", {"stream": f"register:{register}"}))["type"] == "subscribed"
    printer = world.services.devices.ref(world.a.tenant_id, devices["printer"])
    timeout = 5
    first = await printer.ask(
        EnqueueJob(kind="test", register_id=world.a.register_id, source_id=None, data=b"\x1b@uno\n"),
        timeout=timeout,
    )
    assert first.state == "queued"  # no agent yet: the job waits in the database
    assert await job_states(world) == ["queued"]

    agent = await open_agent(world, devices)
    directive = await next_directive(agent)
    assert directive["name"] == "print" and directive["payload"]["job_id"] == str(first.job_id)
    assert base64.b64decode(directive["payload"]["data"]) == b"\x1b@uno\n"
    assert await job_states(world) == ["sent"]

    ack = {"device_id": str(devices["printer"]), "job_id": str(first.job_id)}
    held = ok(await agent.call("print.ack", ack | {"outcome": "held", "reason": "sin papel"}))
    assert held["state"] == "held" and held["reason"] == "sin papel"
    async with asyncio.timeout(5):  # the till is told the receipt waits for paper
        while True:
            frame = await till.recv()
            if frame.get("event") == "PrintJobChanged" and frame["payload"]["state"] == "held":
                break

    # The agent reconnects: every open job is handed over again (the agent knows it already has it).
    await agent.socket.close()
    agent = await open_agent(world, devices)
    assert (await next_directive(agent))["payload"]["job_id"] == str(first.job_id)
    assert ok(await agent.call("print.ack", ack | {"outcome": "printed"}))["state"] == "printed"
    assert (
        ok(await agent.call("print.ack", ack | {"outcome": "printed"}))["state"] == "printed"
    )  # repeat: same
    assert ok(await agent.call("print.ack", ack | {"outcome": "failed"}))["state"] == "printed"  # final stays
    assert await job_states(world) == ["printed"]

    # A job queued while the agent is connected is handed over at once.
    second = await printer.ask(
        EnqueueJob(kind="test", register_id=None, source_id=None, data=b"dos"), timeout=timeout
    )
    assert (await next_directive(agent))["payload"]["job_id"] == str(second.job_id)


async def test_the_printer_queue_is_reloaded_after_a_hub_restart(world: World) -> None:
    devices = await add_devices(world, world.a)
    printer_address = f"device/{world.a.tenant_id}/{devices['printer']}"
    printer = world.services.devices.ref(world.a.tenant_id, devices["printer"])
    job = await printer.ask(EnqueueJob(kind="test", register_id=None, source_id=None, data=b"x"), timeout=5)
    await world.services.actors.stop_actor(printer_address)  # as after a restart: only the rows remain
    assert world.services.actors.lookup(printer_address) is None
    agent = await open_agent(world, devices)
    assert (await next_directive(agent))["payload"]["job_id"] == str(job.job_id)


async def test_agent_bad_input_is_refused_and_changes_nothing(world: World) -> None:
    devices = await add_devices(world, world.a)
    other = await add_devices(world, world.b)
    agent = await open_agent(world, devices, hello=False)
    scale = str(devices["scale"])
    # Nothing is accepted before hello.
    refused(await agent.call("device.weight", {"device_id": scale, "grams": 1, "stable": True}), "forbidden")
    welcome = ok(await agent.call("agent.hello", {"devices": [
        {"device_id": scale, "kind": "printer"},  # wrong kind
        {"device_id": str(other["scale"]), "kind": "scale"},  # another tenant's: not found
        {"device_id": str(devices["agent"]), "kind": "agent"},  # itself
        {"device_id": str(devices["printer"]), "kind": "printer"}]}))  # fmt: skip
    assert [(d["accepted"], d["reason"]) for d in welcome["devices"]] == [
        (False, "the device is a scale, not a printer"),
        (False, "no such device"),
        (False, "an agent is not a device it drives"),
        (True, ""),
    ]
    refused(await agent.call("device.weight", {"device_id": scale, "grams": 1, "stable": True}), "forbidden")
    refused(await agent.call("device.weight", {"device_id": str(other["scale"]), "grams": 1, "stable": True}),
            "forbidden")  # fmt: skip
    refused(
        await agent.call("device.weight", {"device_id": scale, "grams": "heavy", "stable": True}), "invalid"
    )
    refused(await agent.call("print.ack", {"device_id": str(devices["printer"]), "job_id": str(uuid.uuid4()),
                                           "outcome": "printed"}), "not_found")  # fmt: skip
    refused(await agent.call("print.ack", {"device_id": str(devices["printer"]), "job_id": str(uuid.uuid4()),
                                           "outcome": "burnt"}), "invalid")  # fmt: skip
    refused(
        await agent.call("agent.hello", {"devices": [{"device_id": scale, "kind": "scale"}] * 2}), "invalid"
    )
    await agent.socket.send("{not json")
    assert (await agent.recv())["type"] == "error"
    # A cashier is not an agent; an agent is not a cashier.
    till = await open_till(world)
    refused(await till.call("device.weight", {"device_id": scale, "grams": 1, "stable": True}), "forbidden")
    refused(await agent.call("cart.get", {"register_id": str(world.a.register_id)}), "forbidden")
    async with world.db.tenant(world.a.tenant_id) as session:
        assert (await session.execute(select(func.count()).select_from(PrintJob))).scalar_one() == 0


async def test_revoking_the_agent_disconnects_it_and_its_token_is_refused(world: World) -> None:
    devices = await add_devices(world, world.a)
    agent = await open_agent(world, devices)
    async with httpx.AsyncClient(base_url=world.http) as http:
        headers = {"Authorization": f"Bearer {world.a.tokens['manager']}"}
        answer = await http.post(f"/api/v1/devices/{devices['agent']}/revoke", headers=headers)
        assert answer.status_code == 200 and answer.json()["status"] == "revoked"
    code = None
    async with asyncio.timeout(5):
        while code is None:  # frames already on their way may come first; then the close
            try:
                await agent.recv()
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd is not None else 0
    assert code == 4401
    await expect_close(world, devices["token"], 4401)
    # A token nobody issued (right shape, right tenant) is refused the same way.
    await expect_close(world, bearer_token("shd", world.a.tenant_id, new_secret()), 4401)


async def test_a_device_cannot_be_bound_to_another_tenants_or_stores_register(world: World) -> None:
    devices = await add_devices(world, world.a)
    async with httpx.AsyncClient(base_url=world.http) as http:
        headers = {"Authorization": f"Bearer {world.a.tokens['manager']}"}
        url = f"/api/v1/devices/{devices['scale']}"
        assert (
            await http.patch(url, json={"register_id": str(world.b.register_id)}, headers=headers)
        ).status_code == 404
        assert (await http.patch(url, json={"config": {"paper_mm": 57}}, headers=headers)).status_code == 200
        printer = f"/api/v1/devices/{devices['printer']}"
        assert (
            await http.patch(printer, json={"config": {"paper_mm": 57}}, headers=headers)
        ).status_code == 400
        assert (await http.patch(url, json={}, headers=headers)).status_code == 400
        unbound = await http.patch(url, json={"register_id": None}, headers=headers)
        assert unbound.status_code == 200 and unbound.json()["register_id"] is None
        other = f"/api/v1/devices/{devices['scale']}"
        headers_b = {"Authorization": f"Bearer {world.b.tokens['manager']}"}
        assert (await http.patch(other, json={"name": "mía"}, headers=headers_b)).status_code == 404


async def test_a_sale_and_a_closed_cash_session_print_on_the_registers_printer(world: World) -> None:
    from devices.escpos.decode import decode

    await stock_shop(world)
    devices = await add_devices(world, world.a)
    register = str(world.a.register_id)
    agent = await open_agent(world, devices)
    till = await open_till(world)
    ok(await till.call("cash.open", {"register_id": register, "float_amount": 10_000}))
    ok(await till.call("cart.add", {"register_id": register, "code": world.a.barcode}))
    pay = {"register_id": register, "tenders": [{"kind": "card", "amount": 1090}]}
    sale = ok(await till.call("checkout", pay))
    receipt = await next_directive(agent, timeout=15)  # no fiscal setup: printed without waiting for a TED
    assert receipt["payload"]["kind"] == "receipt"
    printed = decode(base64.b64decode(receipt["payload"]["data"]))
    assert f"Venta N° {sale['number']}" in printed.text() and "$1.090" in printed.text()
    assert printed.drawer_kicks == 0 and printed.cuts == 1  # card only: the drawer stays shut

    ok(await till.call("cash.close", {"register_id": register, "counted": {"cash": 10_000, "card": 1090}}))
    report = await next_directive(agent, timeout=15)
    assert report["payload"]["kind"] == "zreport"
    text = decode(base64.b64decode(report["payload"]["data"])).text()
    assert "INFORME Z" in text and "$1.090" in text

    # The cashier reprints the sale: a new job, marked as a copy; a sale of another register is not found.
    copy = ok(await till.call("print.reprint", {"register_id": register, "sale_id": sale["sale_id"]}))
    again = await next_directive(agent)
    assert again["payload"]["job_id"] == copy["job_id"]
    assert "REIMPRESIÓN" in decode(base64.b64decode(again["payload"]["data"])).text()
    refused(
        await till.call("print.reprint", {"register_id": register, "sale_id": str(uuid.uuid4())}), "not_found"
    )
    async with world.db.tenant(world.a.tenant_id) as session:
        kinds = (
            await session.execute(select(PrintJob.kind, PrintJob.reprint_of).order_by(PrintJob.created_at))
        ).all()
    assert [(k, r is not None) for k, r in kinds] == [
        ("receipt", False),
        ("zreport", False),
        ("receipt", True),
    ]
