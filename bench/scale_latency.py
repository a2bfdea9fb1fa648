"""How fast a weight gets from the scale to the till, and how often.

    python bench/scale_latency.py [--samples 60]

Starts a hub (its own process, embedded SQLite in a temporary folder) with one store whose register has a
scale, a virtual Toledo 8217 scale on a pseudo-terminal and the real device agent (this process), and a till
socket following the register. Figures, each p50 / p99 / max in ms:

* ``scale_to_till``: the weight on the plate changes (at a random moment) -> the till's socket has the first
  reading of it. This includes waiting for the agent's next poll (every 80 ms) and the serial exchange.
* ``agent_to_till``: a ``device.weight`` frame sent by an agent socket -> the till has it (the hub's hop).
* ``echo``: the baseline, a ``ping`` round trip on the till's socket to the same hub.
* ``readings_per_second`` at the till while the plate is still (the issue asks for >= 10).

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.till_load import free_port, start_server, wait_http  # noqa: E402
from devices.agent.main import run_agent  # noqa: E402
from devices.sim.scale import VirtualScale  # noqa: E402
from hub.admin import create_tenant  # noqa: E402
from hub.auth.tokens import bearer_token, digest, new_secret  # noqa: E402
from hub.db import Database  # noqa: E402
from schema.migrate import upgrade  # noqa: E402
from schema.models import ApiToken, Device, Role, User  # noqa: E402


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 2), "p99": round(p99, 2), "max": round(ordered[-1], 2)}


async def prepare(url: str) -> dict[str, Any]:
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    new = await create_tenant(db, slug="bench", name="Bench", country="CL", tax_id="76354771-K")
    agent_secret, user_secret = new_secret(), new_secret()
    ids = {"agent": uuid.uuid4(), "scale": uuid.uuid4()}
    async with db.tenant(new.tenant_id) as session:
        session.add(
            Device(
                id=ids["agent"],
                store_id=new.store_id,
                kind="agent",
                name="a",
                token_hash=digest(agent_secret),
            )
        )
        session.add(
            Device(
                id=ids["scale"], store_id=new.store_id, register_id=new.register_id, kind="scale", name="s"
            )
        )
        user = User(username="caja", display_name="Caja", role=Role.CASHIER.value, password_hash="x")
        session.add(user)
        await session.flush()
        session.add(ApiToken(id=digest(user_secret), user_id=user.id, name="bench"))
    await db.dispose()
    return {
        "register": str(new.register_id),
        "scale": str(ids["scale"]),
        "agent_token": bearer_token("shd", new.tenant_id, agent_secret),
        "till_token": bearer_token("shk", new.tenant_id, user_secret),
    }


class Socket:
    """A socket whose frames are read by one task; waiters get the first frame matching their test."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.waiters: list[tuple[Any, asyncio.Future[tuple[float, dict[str, Any]]]]] = []
        self.live = 0
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for data in self.ws:
            now = time.perf_counter()
            frame = json.loads(data)
            if frame.get("type") == "live":
                self.live += 1
            for waiter in list(self.waiters):
                test, future = waiter
                if not future.done() and test(frame):
                    future.set_result((now, frame))
                    self.waiters.remove(waiter)

    def expect(self, test: Any) -> asyncio.Future[tuple[float, dict[str, Any]]]:
        future: asyncio.Future[tuple[float, dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self.waiters.append((test, future))
        return future

    async def call(self, type_: str, payload: Any) -> dict[str, Any]:
        cid = uuid.uuid4().hex[:12]
        answer = self.expect(lambda f: f.get("id") == cid)
        await self.ws.send(json.dumps({"id": cid, "type": type_, "payload": payload}))
        return (await asyncio.wait_for(answer, 10))[1]


def weight_of(grams: int) -> Any:
    return lambda f: f.get("type") == "live" and f.get("payload", {}).get("grams") == grams


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    url = f"sqlite+aiosqlite:///{folder}/hub.db"
    world = await prepare(url)
    port = free_port()
    env = os.environ | {"STOREHUB_DATABASE_URL": url, "STOREHUB_LOG_LEVEL": "WARNING"}
    hub = start_server(["-m", "hub.cli", "serve", "--port", str(port)], env)
    http = f"http://127.0.0.1:{port}"
    try:
        await wait_http(http + "/healthz", hub)
        ws_url = f"ws://127.0.0.1:{port}/ws"
        headers = {"Authorization": f"Bearer {world['till_token']}"}
        till = Socket(await websockets.connect(ws_url, additional_headers=headers))
        await till.call("subscribe", {"stream": f"register:{world['register']}"})

        echo: list[float] = []
        for _ in range(200):
            started = time.perf_counter()
            await till.call("ping", {})
            echo.append((time.perf_counter() - started) * 1000)

        scale_to_till: list[float] = []
        config = folder / "agent.toml"
        stop = asyncio.Event()
        async with VirtualScale("toledo8217", 1000) as scale:
            config.write_text(
                f'[agent]\nstate_dir = "state"\n\n[[scale]]\ndevice_id = "{world["scale"]}"\n'
                f'port = "{scale.path}"\nprotocol = "toledo8217"\nbytesize = 8\nparity = "N"\n'
            )
            agent = asyncio.create_task(run_agent(http, world["agent_token"], config, stop=stop))
            await asyncio.wait_for(till.expect(weight_of(1000)), 30)
            before, started_at = till.live, time.perf_counter()
            await asyncio.sleep(3)
            rate = (till.live - before) / (time.perf_counter() - started_at)
            rng = random.Random(7)
            for n in range(args.samples):
                # At a random moment: right after a reading would always wait a whole poll interval.
                await asyncio.sleep(rng.uniform(0, 0.1))
                grams = 1005 + 5 * n
                seen = till.expect(weight_of(grams))
                started = time.perf_counter()
                scale.grams = grams
                arrived, _ = await asyncio.wait_for(seen, 10)
                scale_to_till.append((arrived - started) * 1000)
            stop.set()
            await asyncio.wait_for(agent, 10)

        agent_to_till: list[float] = []
        headers = {"Authorization": f"Bearer {world['agent_token']}"}
        agent_ws = Socket(await websockets.connect(ws_url, additional_headers=headers))
        await agent_ws.call("agent.hello", {"devices": [{"device_id": world["scale"], "kind": "scale"}]})
        for n in range(200):
            grams = 20_000 + n
            seen = till.expect(weight_of(grams))
            started = time.perf_counter()
            frame = {"device_id": world["scale"], "grams": grams, "stable": True}
            await agent_ws.ws.send(json.dumps({"id": str(n), "type": "device.weight", "payload": frame}))
            arrived, _ = await asyncio.wait_for(seen, 10)
            agent_to_till.append((arrived - started) * 1000)
            await asyncio.sleep(0.05)
    finally:
        hub.terminate()
        hub.wait(20)

    figures = {
        "scale_to_till_ms": summary(scale_to_till),
        "agent_to_till_ms": summary(agent_to_till),
        "echo_ms": summary(echo),
        "readings_per_second": round(rate, 1),
    }
    for name in ("scale_to_till_ms", "agent_to_till_ms", "echo_ms"):
        f = figures[name]
        assert isinstance(f, dict)
        print(f"{name:18} p50 {f['p50']:7.2f}  p99 {f['p99']:7.2f}  max {f['max']:7.2f}")
    print(f"readings at the till: {figures['readings_per_second']} per second")
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
