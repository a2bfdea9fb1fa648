"""The whole device path with nothing simulated but the hardware: a real hub, the real device agent, a virtual
scale on a pseudo-terminal and a virtual ESC/POS printer on TCP.

* a weight put on the scale reaches the till's socket (the time it took is printed; bench/ measures it);
* paper out: the receipt is held, the till and the owner's dashboard are told, and it prints exactly once
  when the paper is back;
* the agent killed (SIGKILL) in the middle of a queue and started again: no job lost, none printed twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from actors.device import EnqueueJob
from devices.agent.main import run_agent
from devices.sim.printer import VirtualPrinter
from devices.sim.scale import VirtualScale
from hub.auth.tokens import bearer_token, digest, new_secret
from schema.models import Device, PrintJob
from tests.hub.gateway.conftest import Client, World, connect
from tests.hub.gateway.test_till import ok, stock_shop

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Store:
    world: World
    scale: VirtualScale
    printer: VirtualPrinter
    token: str
    config: Path
    ids: dict[str, uuid.UUID]


async def _devices(world: World) -> tuple[str, dict[str, uuid.UUID]]:
    a = world.a
    secret = new_secret()
    ids = {"agent": uuid.uuid4(), "scale": uuid.uuid4(), "printer": uuid.uuid4()}
    async with world.db.tenant(a.tenant_id) as session:
        # The world's own scale device is bound to the register too; this test's scale replaces it.
        for device in (await session.execute(select(Device))).scalars():
            device.register_id = None
        session.add(
            Device(
                id=ids["agent"], store_id=a.store_id, kind="agent", name="Agente", token_hash=digest(secret)
            )
        )
        session.add(
            Device(
                id=ids["scale"], store_id=a.store_id, register_id=a.register_id, kind="scale", name="Balanza"
            )
        )
        session.add(Device(id=ids["printer"], store_id=a.store_id, register_id=a.register_id, kind="printer",
                           name="Impresora", config={"paper_mm": 80}))  # fmt: skip
    return bearer_token("shd", a.tenant_id, secret), ids


def _config(path: Path, ids: dict[str, uuid.UUID], scale_port: str, printer_port: int) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    config = path / "agent.toml"
    config.write_text(
        f"""[agent]
name = "test"
state_dir = "state"

[[scale]]
device_id = "{ids["scale"]}"
port = "{scale_port}"
protocol = "toledo8217"
bytesize = 8
parity = "N"

[[printer]]
device_id = "{ids["printer"]}"
transport = {{ type = "network", host = "127.0.0.1", port = {printer_port} }}
status_interval_s = 0.5
""",
        encoding="utf-8",
    )
    return config


@pytest.fixture
async def store(world: World, tmp_path: Path) -> AsyncIterator[Store]:
    token, ids = await _devices(world)
    async with VirtualScale("toledo8217", 0) as scale, VirtualPrinter() as printer:
        config = _config(tmp_path / "agent", ids, scale.path, printer.port)
        yield Store(world, scale, printer, token, config, ids)


@contextlib.asynccontextmanager
async def agent_running(store: Store) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_agent(store.world.http, store.token, store.config, stop=stop))
    try:
        yield
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 10) == 0


async def socket_for(world: World, role: str, stream: str) -> Client:
    socket = await connect(world, world.a.tokens[role])
    world.sockets.append(socket)
    client = Client(socket)
    await client.recv()
    assert (await client.call("subscribe", {"stream": stream}))["type"] == "subscribed"
    return client


async def wait_event(client: Client, event: str, match: Any, timeout: float = 10.0) -> dict[str, Any]:
    """The first event (already received or still to come) of that name whose payload matches."""
    seen = 0
    async with asyncio.timeout(timeout):
        while True:
            for frame in client.frames[seen:]:
                if frame.get("event") == event and match(frame["payload"]):
                    return frame
            seen = len(client.frames)
            await client.recv()


async def test_a_weight_on_the_scale_reaches_the_till_and_sells(store: Store) -> None:
    world = store.world
    shop = await stock_shop(world)
    register = str(world.a.register_id)
    till = await socket_for(world, "cashier", f"register:{register}")
    ok(await till.call("cash.open", {"register_id": register, "float_amount": 0}))
    async with agent_running(store):
        await wait_event(till, "DeviceStatusChanged", lambda p: p["kind"] == "scale" and p["online"])
        travel: list[float] = []
        for grams in (455, 1250, 780):
            started = time.perf_counter()
            store.scale.grams = grams
            await wait_event(till, "ScaleWeight", lambda p, g=grams: p["grams"] == g and p["stable"])
            travel.append((time.perf_counter() - started) * 1000)
        # The reading needs 500 ms of stillness to count as stable (devices.scales.stability): the travel
        # itself is what bench/scale_latency.py measures. Printed for the record, not asserted.
        print(f"scale -> till, stable reading: {', '.join(f'{t:.0f} ms' for t in travel)}")
        cart = ok(
            await till.call("cart.add", {"register_id": register, "product_id": str(shop["weighed_id"])})
        )
        assert cart["lines"][0]["quantity"] == 780
        store.scale.motion = True  # someone leans on the plate: no stable weight, no sale by weight
        await wait_event(till, "ScaleWeight", lambda p: not p["stable"])


async def test_paper_out_holds_the_receipt_and_prints_it_once_when_paper_is_back(store: Store) -> None:
    world = store.world
    await stock_shop(world)
    register = str(world.a.register_id)
    till = await socket_for(world, "cashier", f"register:{register}")
    owner = await socket_for(world, "owner", "tenant")
    ok(await till.call("cash.open", {"register_id": register, "float_amount": 0}))
    store.printer.paper_out = True
    async with agent_running(store):
        ok(await till.call("cart.add", {"register_id": register, "code": world.a.barcode}))
        sale = ok(
            await till.call(
                "checkout", {"register_id": register, "tenders": [{"kind": "cash", "amount": 2000}]}
            )
        )

        def held(p: dict[str, Any]) -> bool:
            return p.get("source_id") == sale["sale_id"] and p.get("state") == "held"

        job = (await wait_event(till, "PrintJobChanged", held))["payload"]
        assert "papel" in job["reason"]
        await wait_event(owner, "PrintJobChanged", held)  # the dashboard channel sees it too
        await wait_event(owner, "DeviceStatusChanged", lambda p: p["kind"] == "printer" and p["paper_out"])
        assert store.printer.jobs == [] and store.printer.discarded_bytes == 0  # nothing was even sent

        store.printer.paper_out = False
        [printed] = await store.printer.wait_for_jobs(1, timeout=15)
        await wait_event(
            till, "PrintJobChanged", lambda p: p["job_id"] == job["job_id"] and p["state"] == "printed"
        )
    assert f"Venta N° {sale['number']}" in printed.text and "Vuelto" in printed.text
    assert printed.drawer_kicks == 1  # paid in cash
    assert len(store.printer.jobs) == 1  # exactly once
    async with world.db.tenant(world.a.tenant_id) as session:
        states = (await session.execute(select(PrintJob.state, PrintJob.printed_at))).all()
    assert [s for s, _ in states] == ["printed"] and states[0][1] is not None


@pytest.mark.timeout(180)
async def test_the_agent_killed_mid_queue_loses_no_job_and_prints_none_twice(store: Store) -> None:
    world = store.world
    printer_ref = world.services.devices.ref(world.a.tenant_id, store.ids["printer"])
    jobs: list[uuid.UUID] = []
    for n in range(30):
        data = b"\x1b@" + f"TRABAJO-{n:03d}\n".encode() + b"x\n" * 40 + b"\x1dV\x00"
        view = await printer_ref.ask(
            EnqueueJob(kind="test", register_id=None, source_id=None, data=data), timeout=5
        )
        jobs.append(view.job_id)
    command = [sys.executable, "-m", "hub.cli", "devices", "--hub", world.http, "--config", str(store.config)]
    env = os.environ | {"STOREHUB_DEVICE_TOKEN": store.token}
    log = (store.config.parent / "agent.log").open("ab")
    first = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)  # noqa: ASYNC220
    try:
        await store.printer.wait_for_jobs(5, timeout=60)
    finally:
        first.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait, 10)
    killed_at = len(store.printer.jobs)
    second = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)  # noqa: ASYNC220
    try:
        async with asyncio.timeout(120):
            while True:
                async with world.db.tenant(world.a.tenant_id) as session:
                    states = dict((await session.execute(select(PrintJob.id, PrintJob.state))).all())
                if all(states[j] in ("printed", "failed") for j in jobs):
                    break
                await asyncio.sleep(0.2)
    finally:
        second.terminate()
        await asyncio.to_thread(second.wait, 10)
    printed = [
        line for job in store.printer.jobs for line in job.text.splitlines() if line.startswith("TRABAJO-")
    ]
    failed = [j for j in jobs if states[j] == "failed"]
    print(f"killed after {killed_at} printed jobs; {len(failed)} reported maybe-printed")
    assert len(printed) == len(set(printed)), "a job was printed twice"
    assert len(failed) <= 1  # only the one being printed at the kill may be in doubt
    expected = {f"TRABAJO-{n:03d}" for n, j in enumerate(jobs) if j not in failed}
    assert expected <= set(printed)  # every other job printed, in spite of the kill
