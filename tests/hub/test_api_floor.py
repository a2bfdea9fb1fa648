"""A restaurant's floor plan and the products' modifiers over the REST API: managers build them, every change
is announced on the store's floor stream with the next rev, and every refusal."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select, update

from actors.floor_tabs import open_tab
from schema.models import FloorArea, FloorTable, OutboxEvent, Product, Role, Store
from tests.hub.conftest import Hub, HubFactory
from tests.support.tenants import TenantFixture, add_store


async def restaurant(hub: Hub, tenant: TenantFixture) -> str:
    async with hub.db.tenant(tenant.tenant_id) as session:
        await session.execute(update(Store).where(Store.id == tenant.store_id).values(mode="restaurant"))
    return f"/api/v1/stores/{tenant.store_id}/floor"


async def floor_events(hub: Hub, tenant: TenantFixture, event: str = "FloorChanged") -> list[dict[str, Any]]:
    """The payloads written for the store's floor stream (``event``, or every event with ``""``)."""
    async with hub.db.tenant(tenant.tenant_id) as session:
        query = select(OutboxEvent.payload).where(OutboxEvent.stream == f"floor:{tenant.store_id}")
        if event:
            query = query.where(OutboxEvent.event == event)
        return list((await session.execute(query.order_by(OutboxEvent.id))).scalars())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_url(request: pytest.FixtureRequest) -> str | None:
    # Synchronous on purpose: pg_url sets up its server with asyncio.run(), outside any running loop.
    return None if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def any_hub(backend_url: str | None, hub_factory: HubFactory) -> Hub:
    made: Hub = await hub_factory(database_url=backend_url)
    return made


async def test_a_manager_builds_the_floor_plan(any_hub: Hub) -> None:
    hub = any_hub
    floor = await restaurant(hub, hub.a)
    manager = await hub.auth(hub.a, Role.MANAGER)
    # make_tenant's store has a floor already: the area Salón with M1, which has a paid tab.
    plan = (await hub.client.get(floor, headers=manager)).json()
    assert (plan["tip_percent"], plan["rev"]) == (10, 2)
    assert [(a["name"], [t["name"] for t in a["tables"]]) for a in plan["areas"]] == [("Salón", ["M1"])]
    salon, m1 = plan["areas"][0]["id"], plan["areas"][0]["tables"][0]["id"]

    terraza = await hub.client.post(
        f"{floor}/areas", json={"name": "Terraza", "position": 1}, headers=manager
    )
    assert terraza.status_code == 201, terraza.text
    t1 = await hub.client.post(
        f"{floor}/tables",
        json={"area_id": terraza.json()["id"], "name": "T1", "seats": 2, "x": 20, "y": 50, "shape": "round"},
        headers=manager,
    )
    assert t1.status_code == 201, t1.text
    assert {k: t1.json()[k] for k in ("name", "seats", "x", "y", "shape", "active")} == {
        "name": "T1", "seats": 2, "x": 20, "y": 50, "shape": "round", "active": True}  # fmt: skip
    table = t1.json()["id"]
    moved = await hub.client.patch(
        f"{floor}/tables/{table}", json={"area_id": salon, "x": 90, "seats": 4}, headers=manager
    )
    assert moved.status_code == 200 and (moved.json()["area_id"], moved.json()["x"]) == (salon, 90)
    renamed = await hub.client.patch(
        f"{floor}/areas/{terraza.json()['id']}", json={"name": "Patio"}, headers=manager
    )
    assert renamed.json()["name"] == "Patio"
    tip = await hub.client.patch(floor, json={"tip_percent": 15}, headers=manager)
    assert tip.status_code == 200 and tip.json()["tip_percent"] == 15

    # Refusals: a taken name, out-of-range values, another tenant's or store's area, nothing to change.
    for body, status in [
        ({"area_id": salon, "name": "M1"}, 409),
        ({"area_id": salon, "name": "X", "x": 101}, 400),
        ({"area_id": salon, "name": "X", "seats": 0}, 400),
        ({"area_id": salon, "name": "X", "shape": "oval"}, 400),
        ({"area_id": salon, "name": "X" * 21}, 400),
        ({"area_id": str(uuid.uuid4()), "name": "X"}, 404),
    ]:
        assert (await hub.client.post(f"{floor}/tables", json=body, headers=manager)).status_code == status, (
            body
        )
    assert (await hub.client.patch(floor, json={"tip_percent": 101}, headers=manager)).status_code == 400
    assert (await hub.client.patch(floor, json={}, headers=manager)).status_code == 400
    assert (
        await hub.client.patch(f"{floor}/tables/{table}", json={"name": "M1"}, headers=manager)
    ).status_code == 409

    # Deleting: an area with tables is refused; M1 has tab history, so it is deactivated (its name is free);
    # T1 (no history) is deleted; a table with an open tab is refused.
    deleting = await hub.client.delete(f"{floor}/areas/{salon}", headers=manager)
    assert deleting.status_code == 409
    assert (await hub.client.delete(f"{floor}/tables/{m1}", headers=manager)).status_code == 204
    assert (await hub.client.delete(f"{floor}/tables/{table}", headers=manager)).status_code == 204
    again = await hub.client.post(f"{floor}/tables", json={"area_id": salon, "name": "M1"}, headers=manager)
    assert again.status_code == 201
    await open_tab(hub.db, hub.a.tenant_id, hub.a.store_id, uuid.UUID(again.json()["id"]), 2, None)
    busy = await hub.client.delete(f"{floor}/tables/{again.json()['id']}", headers=manager)
    assert (busy.status_code, busy.json()["code"]) == (409, "table_busy")
    busy = await hub.client.patch(
        f"{floor}/tables/{again.json()['id']}", json={"active": False}, headers=manager
    )
    assert (busy.status_code, busy.json()["code"]) == (409, "table_busy")
    assert (
        await hub.client.delete(f"{floor}/areas/{renamed.json()['id']}", headers=manager)
    ).status_code == 204
    plan = (await hub.client.get(floor, headers=manager)).json()
    assert [(a["name"], [(t["name"], t["active"]) for t in a["tables"]]) for a in plan["areas"]] == [
        ("Salón", [("M1", False), ("M1", True)])
    ]
    async with hub.db.tenant(hub.a.tenant_id) as session:
        kept = await session.get(FloorTable, (hub.a.tenant_id, uuid.UUID(m1)))
    assert kept is not None and not kept.active

    # Every change was announced with the next rev, as FloorChanged with the floor as it then was
    # (plus one TabChanged for the tab opened above).
    assert [e["rev"] for e in await floor_events(hub, hub.a, "")] == list(range(3, plan["rev"] + 1))
    events = await floor_events(hub, hub.a)
    assert events[-1]["tip_percent"] == 15 and [a["name"] for a in events[-1]["areas"]] == ["Salón"]
    assert [t["name"] for t in events[-1]["areas"][0]["tables"]] == ["M1"]  # active ones, with their tab
    assert events[-1]["areas"][0]["tables"][0]["tab"] is not None


async def test_who_may_change_the_floor(hub: Hub) -> None:
    floor = await restaurant(hub, hub.a)
    for role in (Role.CASHIER, Role.KITCHEN):
        headers = await hub.auth(hub.a, role)
        assert (await hub.client.get(floor, headers=headers)).status_code == 403
        assert (
            await hub.client.post(f"{floor}/areas", json={"name": "X"}, headers=headers)
        ).status_code == 403
    other_store, _, _ = await add_store(hub.db, hub.a.tenant_id, "002")
    elsewhere = await hub.auth(hub.a, Role.MANAGER, store_id=other_store)
    assert (await hub.client.get(floor, headers=elsewhere)).status_code == 403
    # Another tenant's store is not found; a retail store has no floor.
    b_owner = hub.owner(hub.b)
    assert (await hub.client.get(floor, headers=b_owner)).status_code == 404
    retail = await hub.client.get(f"/api/v1/stores/{hub.b.store_id}/floor", headers=b_owner)
    assert (retail.status_code, retail.json()["code"]) == (409, "not_restaurant")
    assert (await hub.client.get(f"/api/v1/stores/{uuid.uuid4()}/floor", headers=b_owner)).status_code == 404


async def test_modifiers_of_a_product(hub: Hub) -> None:
    await restaurant(hub, hub.a)
    manager, cashier = await hub.auth(hub.a, Role.MANAGER), await hub.auth(hub.a, Role.CASHIER)
    url = f"/api/v1/products/{hub.a.product_id}/modifiers"
    listed = (await hub.client.get(url, headers=cashier)).json()
    assert [(m["group"], m["name"], m["price_delta"]) for m in listed] == [("Punto", "tostado", 0)]
    made = await hub.client.post(
        url, json={"group": "Agregado", "name": "palta", "price_delta": 800}, headers=manager
    )
    assert made.status_code == 201, made.text
    modifier = made.json()["id"]
    cheaper = await hub.client.patch(f"{url}/{modifier}", json={"price_delta": -100}, headers=manager)
    assert cheaper.status_code == 200 and cheaper.json()["price_delta"] == -100
    assert (await hub.client.post(url, json={"group": "A", "name": "b"}, headers=cashier)).status_code == 403
    assert (await hub.client.post(url, json={"group": "", "name": "b"}, headers=manager)).status_code == 400
    other = await _other_product(hub)
    assert (await hub.client.patch(f"/api/v1/products/{other}/modifiers/{modifier}", json={"position": 2},
                                   headers=manager)).status_code == 404  # fmt: skip
    b_url = f"/api/v1/products/{hub.b.product_id}/modifiers"
    assert (await hub.client.get(b_url, headers=cashier)).status_code == 404
    assert (
        await hub.client.post(b_url, json={"group": "A", "name": "b"}, headers=manager)
    ).status_code == 404
    assert (await hub.client.delete(f"{url}/{modifier}", headers=manager)).status_code == 204
    assert [m["name"] for m in (await hub.client.get(url, headers=cashier)).json()] == ["tostado"]
    # Each change reached the restaurant's floor stream, the modifiers with it.
    events = await floor_events(hub, hub.a)
    assert [e["rev"] for e in events] == [3, 4, 5]
    assert [[m["name"] for m in e["modifiers"]] for e in events] == [
        ["palta", "tostado"], ["palta", "tostado"], ["tostado"]]  # fmt: skip
    assert await floor_events(hub, hub.b) == []  # tenant B's store is not a restaurant


async def _other_product(hub: Hub) -> uuid.UUID:
    async with hub.db.tenant(hub.a.tenant_id) as session:
        product = Product(
            sku="2002", name="Marraqueta", search_name="marraqueta", price=100, tax_class="cl_iva"
        )
        session.add(product)
        await session.flush()
        return product.id


async def test_an_area_whose_tables_have_history_is_hidden_not_deleted(hub: Hub) -> None:
    """Salón's only table, M1, has a paid tab: deleting M1 deactivates it, and deleting Salón then hides the
    area (its old table still names it) instead of refusing for a table the plan no longer shows."""
    floor = await restaurant(hub, hub.a)
    manager = await hub.auth(hub.a, Role.MANAGER)
    plan = (await hub.client.get(floor, headers=manager)).json()
    salon, m1 = plan["areas"][0]["id"], plan["areas"][0]["tables"][0]["id"]
    assert (await hub.client.delete(f"{floor}/tables/{m1}", headers=manager)).status_code == 204
    assert (await hub.client.delete(f"{floor}/areas/{salon}", headers=manager)).status_code == 204
    assert (await hub.client.get(floor, headers=manager)).json()["areas"] == []
    into_hidden = await hub.client.post(
        f"{floor}/tables", json={"area_id": salon, "name": "M9"}, headers=manager
    )
    assert into_hidden.status_code == 404
    async with hub.db.tenant(hub.a.tenant_id) as session:
        kept = await session.get(FloorArea, (hub.a.tenant_id, uuid.UUID(salon)))
    assert kept is not None and not kept.active
    assert (await floor_events(hub, hub.a))[-1]["areas"] == []
