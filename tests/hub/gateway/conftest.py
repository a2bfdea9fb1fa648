"""A real hub (uvicorn on a loopback port) over SQLite and Postgres, and two tenants to attack each other."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
import websockets
from sqlalchemy import select

from hub.admin import create_tenant
from hub.app import create_app
from hub.auth.tokens import bearer_token, digest, new_secret
from hub.db import Database
from hub.settings import Settings, load_settings
from schema.migrate import upgrade
from schema.models import ApiToken, Device, Product, ProductBarcode, Role, User


@dataclass
class TenantWorld:
    slug: str
    tenant_id: uuid.UUID
    store_id: uuid.UUID
    register_id: uuid.UUID
    product_id: uuid.UUID
    barcode: str
    device_id: uuid.UUID
    tokens: dict[str, str] = field(default_factory=dict)  # role -> bearer token; "device" too


@dataclass
class World:
    url: str  # ws://127.0.0.1:PORT/ws
    http: str
    db: Database
    a: TenantWorld
    b: TenantWorld
    services: Any = None
    sockets: list[Any] = field(default_factory=list)  # opened by tests, closed with the world


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
        upgrade(url)
        return url
    return str(request.getfixturevalue("pg_url"))


async def make_world_tenant(db: Database, slug: str) -> TenantWorld:
    new = await create_tenant(db, slug=slug, name=f"Tienda {slug}", country="CL", tax_id="76354771-K")
    world = TenantWorld(
        slug=slug,
        tenant_id=new.tenant_id,
        store_id=new.store_id,
        register_id=new.register_id,
        product_id=uuid.uuid4(),
        barcode="7800000000016",
        device_id=uuid.uuid4(),
    )
    async with db.tenant(new.tenant_id) as session:
        session.add(
            Product(
                id=world.product_id,
                sku="00001",
                name="Leche entera 1 L",
                search_name="leche entera 1 l",
                price=1090,
                tax_class="cl_iva",
            )
        )
        await session.flush()
        session.add(ProductBarcode(barcode=world.barcode, product_id=world.product_id))
        for role in Role:
            user = User(
                username=f"u-{role.value}", display_name=role.value, role=role.value, password_hash="x"
            )
            session.add(user)
            await session.flush()
            secret = new_secret()
            session.add(ApiToken(id=digest(secret), user_id=user.id, name="test"))
            world.tokens[role.value] = bearer_token("shk", new.tenant_id, secret)
        secret = new_secret()
        session.add(
            Device(
                id=world.device_id,
                store_id=new.store_id,
                register_id=new.register_id,
                kind="scale",
                name="Balanza",
                token_hash=digest(secret),
            )
        )
        world.tokens["device"] = bearer_token("shd", new.tenant_id, secret)
    return world


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    # The fiscal pipeline in the hub's loop (hub.fiscal_process has its own tests).
    settings = load_settings(env={}, database_url=database_url, ws_max_frame_bytes=4096, fiscal_runner="hub")
    async with world_on(settings) as world:
        yield world


@asynccontextmanager
async def world_on(settings: Settings, prefix: str = "") -> AsyncIterator[World]:
    """A hub served with ``settings``, and two new tenants on it; the sockets tests open close with it."""
    async with running_hub(settings) as (host, services):
        suffix = uuid.uuid4().hex[:8]
        a = await make_world_tenant(services.db, f"{prefix}a-{suffix}")
        b = await make_world_tenant(services.db, f"{prefix}b-{suffix}")
        world = World(
            url=f"ws://{host}/ws", http=f"http://{host}", db=services.db, a=a, b=b, services=services
        )
        try:
            yield world
        finally:
            for socket in world.sockets:
                await socket.close()


class running_hub:
    """The hub served by uvicorn as ``storehub serve`` serves it (no per-message deflate, unless asked)."""

    def __init__(self, settings: Settings, *, per_message_deflate: bool = False) -> None:
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=0,
            log_config=None,
            lifespan="on",
            ws_max_size=1 << 20,
            ws_per_message_deflate=per_message_deflate,
        )
        self.server = uvicorn.Server(config)

    async def __aenter__(self) -> tuple[str, Any]:
        self.task = asyncio.create_task(self.server.serve())
        async with asyncio.timeout(20):
            while not self.server.started:
                if self.task.done():
                    self.task.result()
                await asyncio.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"127.0.0.1:{port}", self.app.state.services

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        async with asyncio.timeout(20):
            await self.task


class Client:
    """A WebSocket client that reads frames with a deadline and keeps the ones it skipped."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.frames: list[dict[str, Any]] = []

    async def send(self, type_: str, payload: Any = None, id_: str | None = None) -> str:
        cid = id_ or uuid.uuid4().hex[:12]
        frame: dict[str, Any] = {"id": cid, "type": type_}
        if payload is not None:
            frame["payload"] = payload
        await self.socket.send(json.dumps(frame))
        return cid

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            data = await self.socket.recv()
        frame: dict[str, Any] = json.loads(data)
        self.frames.append(frame)
        return frame

    async def answer(self, cid: str, timeout: float = 5.0) -> dict[str, Any]:
        """The frame answering command ``cid`` (events arriving first are kept in ``frames``)."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.recv()
                if frame.get("id") == cid:
                    return frame

    async def call(self, type_: str, payload: Any = None) -> dict[str, Any]:
        return await self.answer(await self.send(type_, payload))


def connect(world: World, token: str | None, **kwargs: Any) -> Any:
    """``async with connect(...) as socket`` or ``socket = await connect(...)``."""
    headers = dict(kwargs.pop("additional_headers", {}))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return websockets.connect(world.url, additional_headers=headers, **kwargs)


async def product_snapshot(db: Database, tenant_id: uuid.UUID) -> list[tuple[Any, ...]]:
    async with db.tenant(tenant_id) as session:
        rows = (await session.execute(select(Product.id, Product.price, Product.name, Product.active))).all()
    return sorted(tuple(r) for r in rows)
