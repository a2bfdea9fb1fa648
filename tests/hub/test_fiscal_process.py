"""The fiscal pipeline in the hub's child process (Postgres): a sale's boleta is signed and accepted by the
child, woken by the hub's notice; the document's states reach the owner's socket through the child's
notice (the relay's sweep is put out of reach); a child killed is started again and carries on; the
hub's stop ends it. Real processes: the hub's (in the test), its child, the SII simulator's (in the test)."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from actors.fiscal import fiscal_address
from fiscal.cl.authority_keys import simulator_authority
from fiscal.cl.schemas import SiiSchemas
from hub.services import Services
from tests.hub.conftest import make_settings
from tests.hub.gateway.conftest import Client, World, running_hub, world_on
from tests.hub.gateway.test_fiscal_live import SCHEMAS, fiscal_setup, ok, open_socket
from tests.support.sii_simulator import sii_simulator

pytestmark = pytest.mark.postgres


@pytest.fixture
async def world(pg_url: str) -> AsyncIterator[World]:
    async with sii_simulator(schemas=SiiSchemas(SCHEMAS), authority_keys=simulator_authority().keys) as sim:
        settings = make_settings(pg_url, fiscal_runner="process", sii_simulator_url=sim.url)
        async with world_on(settings, "fp-") as world:
            yield world


async def sell(world: World, till: Client) -> Any:
    register = str(world.a.register_id)
    ok(await till.call("cart.add", {"register_id": register, "code": world.a.barcode}))
    return ok(
        await till.call("checkout", {"register_id": register, "tenders": [{"kind": "card", "amount": 1090}]})
    )


async def states_seen(owner: Client, sale_id: str) -> list[str]:
    seen: list[str] = []
    while "accepted" not in seen:
        frame = await owner.recv(timeout=20)
        if frame.get("event") == "FiscalDocumentChanged" and frame["payload"]["sale_id"] == sale_id:
            seen.append(frame["payload"]["status"])
    return seen


def child_of(services: Services) -> int:
    assert services.fiscal_process is not None and services.fiscal_process.process is not None
    return services.fiscal_process.process.pid


async def test_the_child_signs_and_submits_and_the_screens_hear_it_at_once(world: World) -> None:
    services: Services = world.services
    assert services.components.count("fiscal-process") == 1 and "fiscal" not in services.components
    # Only the child's notices can bring its rows to the screens now: the relay's sweep waits an hour.
    services.relay.sweep_seconds = 3600
    services.relay.notify(uuid.uuid4())  # the sweep in progress ends; the next waits the new period
    await fiscal_setup(world)
    owner = await open_socket(world, "owner")
    assert (await owner.call("subscribe", {"stream": "tenant"}))["type"] == "subscribed"
    till = await open_socket(world, "cashier")
    ok(await till.call("cash.open", {"register_id": str(world.a.register_id), "float_amount": 0}))

    receipt = await sell(world, till)
    assert await states_seen(owner, receipt["sale_id"]) == ["signed", "sent", "accepted"]
    assert services.fiscal_process is not None and services.fiscal_process.notices.sent >= 1  # woken
    assert services.actors.lookup(fiscal_address(world.a.tenant_id)) is None  # not run in the hub

    # The child dies: the hub starts another, which takes the next sale's document.
    first = child_of(services)
    os.kill(first, signal.SIGKILL)
    async with asyncio.timeout(20):
        while services.fiscal_process is None or services.fiscal_process.starts < 2:
            await asyncio.sleep(0.05)
    second = child_of(services)
    assert second != first
    receipt = await sell(world, till)
    assert await states_seen(owner, receipt["sale_id"]) == ["signed", "sent", "accepted"]


async def test_the_hub_stopping_ends_its_child(pg_url: str) -> None:
    settings = make_settings(pg_url, fiscal_runner="process")
    async with running_hub(settings) as (_host, services):
        async with asyncio.timeout(20):
            while services.fiscal_process is None or services.fiscal_process.process is None:
                await asyncio.sleep(0.05)
        pid = child_of(services)
        os.kill(pid, 0)  # running
    with pytest.raises(ProcessLookupError):  # ended and reaped
        os.kill(pid, 0)
