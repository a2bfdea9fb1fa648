"""A real SII simulator on a loopback port, served by uvicorn in the test's event loop.

``async with sii_simulator(schemas=..., authority_keys=...) as sim`` -> :class:`Simulator` (state, base URL,
``set_faults``, ``snapshot``). Used by the fiscal tests and by the hub's end-to-end tests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from fiscal.cl.sii_endpoints import SiiEndpoints
from fiscal.cl.simulator import SimulatorState, create_simulator_app


@dataclass
class Simulator:
    state: SimulatorState
    url: str
    http: httpx.AsyncClient  # for /_sim

    @property
    def endpoints(self) -> SiiEndpoints:
        return SiiEndpoints.simulator(self.url)

    async def set_faults(self, **faults: Any) -> dict[str, Any]:
        response = await self.http.post(f"{self.url}/_sim/faults", json=faults)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def snapshot(self) -> dict[str, Any]:
        response = await self.http.get(f"{self.url}/_sim/state")
        assert response.status_code == 200
        answer: dict[str, Any] = response.json()
        return answer


@contextlib.asynccontextmanager
async def sii_simulator(**options: Any) -> AsyncIterator[Simulator]:
    state = SimulatorState(**options)
    config = uvicorn.Config(
        create_simulator_app(state),
        host="127.0.0.1",
        port=0,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.005)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(timeout=5) as control:
            yield Simulator(state, f"http://127.0.0.1:{port}", control)
    finally:
        server.should_exit = True
        async with asyncio.timeout(10):
            await task
