"""A restaurant for the gateway tests: tenant A's store in restaurant mode, its kitchen (``set_kitchen``),
a floor plan and modifiers made through the REST API, and helpers to drive tabs over a socket."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import update

from schema.models import Store
from tests.hub.gateway.conftest import Client, TenantWorld, World
from tests.hub.gateway.test_kitchen import Kitchen, ok, open_client, set_kitchen


@dataclass
class Restaurant:
    k: Kitchen
    store: str
    register: str
    areas: dict[str, str] = field(default_factory=dict)  # name -> id
    tables: dict[str, str] = field(default_factory=dict)  # name -> id
    modifiers: dict[str, str] = field(default_factory=dict)  # name -> id


def api(world: World, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=world.http + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


async def make_restaurant(world: World, tenant: TenantWorld) -> None:
    async with world.db.tenant(tenant.tenant_id) as session:
        await session.execute(update(Store).where(Store.id == tenant.store_id).values(mode="restaurant"))


async def set_restaurant(world: World) -> Restaurant:
    a = world.a
    await make_restaurant(world, a)
    k = await set_kitchen(world)
    r = Restaurant(k=k, store=str(a.store_id), register=str(a.register_id))
    async with api(world, a.tokens["manager"]) as http:
        for position, name in enumerate(["Salón", "Terraza"]):
            made = await http.post(
                f"/stores/{r.store}/floor/areas", json={"name": name, "position": position}
            )
            assert made.status_code == 201, made.text
            r.areas[name] = made.json()["id"]
        for n, (name, area) in enumerate(
            [("M1", "Salón"), ("M2", "Salón"), ("M3", "Salón"), ("T1", "Terraza")]
        ):
            made = await http.post(
                f"/stores/{r.store}/floor/tables",
                json={
                    "area_id": r.areas[area],
                    "name": name,
                    "seats": 4,
                    "x": 10 * n,
                    "y": 20,
                    "shape": "round",
                },
            )
            assert made.status_code == 201, made.text
            r.tables[name] = made.json()["id"]
        for group, name, delta in [
            ("Punto", "jugoso", 0),
            ("Punto", "a punto", 0),
            ("Agregado", "palta", 800),
        ]:
            made = await http.post(
                f"/products/{k.plato}/modifiers", json={"group": group, "name": name, "price_delta": delta}
            )
            assert made.status_code == 201, made.text
            r.modifiers[name] = made.json()["id"]
    return r


async def open_cash(client: Client, register: str, float_amount: int = 10_000) -> None:
    ok(await client.call("cash.open", {"register_id": register, "float_amount": float_amount}))


class FloorScreen:
    """What a floor screen shows: floor.get, then the floor stream's events applied by rev."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.stream = state["stream"]
        self.rev, self.seq, self.epoch = state["rev"], state["seq"], state["epoch"]
        self.tabs: dict[str, dict[str, Any]] = {}
        for area in state["areas"]:
            for table in area["tables"]:
                if table["tab"] is not None:
                    self.tabs[table["tab"]["tab_id"]] = {"table_id": table["id"], "rev": table["tab"]["rev"]}
        self.revs: list[int] = []

    def apply(self, frame: dict[str, Any]) -> None:
        payload = frame["payload"]
        if payload["rev"] <= self.rev:
            return
        assert payload["rev"] == self.rev + 1, f"missed a change: at {self.rev}, got {payload['rev']}"
        self.rev = payload["rev"]
        self.revs.append(self.rev)
        if frame["event"] == "TabChanged":
            if payload["status"] == "open":
                self.tabs[payload["tab_id"]] = {"table_id": payload["table_id"], "rev": payload["rev"]}
            else:
                self.tabs.pop(payload["tab_id"], None)

    async def catch_up(self, client: Client, rev: int, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while True:
                mine = [f for f in client.frames if f.get("type") == "event" and f["stream"] == self.stream]
                client.frames = [f for f in client.frames if f not in mine]
                for frame in mine:
                    self.apply(frame)
                if self.rev >= rev:
                    return
                await client.recv()


__all__ = [
    "FloorScreen",
    "Restaurant",
    "api",
    "make_restaurant",
    "ok",
    "open_cash",
    "open_client",
    "set_restaurant",
]
