"""Browser tests: a real hub on a loopback port over SQLite with the demo seeded, and headless Chromium.

* ``demo``     the running hub (``running_hub`` from the gateway tests) with ``seed_demo`` applied.
* ``browser``  Chromium driven by Playwright; missing Chromium fails with how to install it.
* ``owner``    a WebSocket client signed in as the demo owner (session cookie + our Origin), welcomed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from playwright.async_api import async_playwright
from sqlalchemy import select

from hub.auth.tokens import SESSION_COOKIE
from hub.seed.demo import DEMO_PASSWORD, seed_demo
from hub.settings import load_settings
from schema.migrate import upgrade
from schema.models import Product, Register
from tests.hub.gateway.conftest import Client, running_hub

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 800}
TENANT = "donarosa"


@dataclass
class Demo:
    base: str  # http://127.0.0.1:PORT
    ws: str  # ws://127.0.0.1:PORT/ws
    services: Any
    tenant_id: uuid.UUID
    register_id: uuid.UUID  # Caja 1

    async def product(self, number: int) -> Product:
        """The n-th product of the demo catalog (SKU ``00050`` for 50)."""
        async with self.services.db.tenant(self.tenant_id) as session:
            return (await session.execute(select(Product).where(Product.sku == f"{number:05d}"))).scalar_one()

    async def login_cookie(self, username: str) -> str:
        async with httpx.AsyncClient(base_url=self.base) as client:
            response = await client.post(
                "/api/v1/auth/login",
                json={"tenant": TENANT, "username": username, "password": DEMO_PASSWORD},
            )
            response.raise_for_status()
            return str(response.cookies[SESSION_COOKIE])

    async def socket(self, username: str) -> Client:
        """A signed-in WebSocket client of this user, past its welcome frame."""
        cookie = await self.login_cookie(username)
        socket = await websockets.connect(
            self.ws, additional_headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, origin=self.base
        )
        client = Client(socket)
        welcome = await client.recv()
        assert welcome["type"] == "welcome", welcome
        return client


@pytest.fixture
def demo_database(tmp_path: Path) -> str:
    """Migrated synchronously, before the test's event loop starts (Alembic runs its own)."""
    url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
    upgrade(url)
    return url


@pytest.fixture
async def demo(demo_database: str) -> AsyncIterator[Demo]:
    settings = load_settings(env={}, database_url=demo_database)
    async with running_hub(settings) as (host, services):
        await seed_demo(services.db, secret_key=settings.secret_key)
        tenant_id = await services.db.tenant_id_by_slug(TENANT)
        assert tenant_id is not None
        async with services.db.tenant(tenant_id) as session:
            register_id = (
                await session.execute(select(Register.id).where(Register.name == "Caja 1"))
            ).scalar_one()
        yield Demo(
            base=f"http://{host}",
            ws=f"ws://{host}/ws",
            services=services,
            tenant_id=tenant_id,
            register_id=register_id,
        )


@pytest.fixture
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: run scripts/system-deps.sh (Debian packages chromium, "
            "chromium-driver) and try again",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture
async def browser(chromium_path: Path) -> AsyncIterator[Any]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def owner(demo: Demo) -> AsyncIterator[Client]:
    client = await demo.socket("dueno")
    try:
        yield client
    finally:
        await client.socket.close()


@pytest.fixture
async def till(demo: Demo) -> AsyncIterator[Client]:
    """A cashier's socket on Caja 1 with its cash session open: sells over the WebSocket."""
    client = await demo.socket("caja1")
    answer = await client.call("cash.open", {"register_id": str(demo.register_id), "float_amount": 0})
    assert answer["type"] == "reply", answer
    try:
        yield client
    finally:
        await client.socket.close()
