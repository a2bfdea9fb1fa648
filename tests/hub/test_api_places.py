"""Stores, warehouses, stock levels and registers."""

from __future__ import annotations

import uuid

from schema.models import Register, Role, Store, Warehouse
from tests.hub.conftest import Hub


async def _second_store(hub: Hub) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """Another store of tenant A with its own warehouse and register."""
    async with hub.db.tenant(hub.a.tenant_id) as session:
        warehouse = Warehouse(name="Bodega 2")
        session.add(warehouse)
        await session.flush()
        store = Store(code="002", name="Sucursal Ñuñoa", warehouse_id=warehouse.id)
        session.add(store)
        await session.flush()
        register = Register(store_id=store.id, code="001", name="Caja 1")
        session.add(register)
        await session.flush()
        return store.id, warehouse.id, register.id


async def test_stores_and_warehouses(hub: Hub) -> None:
    store2, warehouse2, _ = await _second_store(hub)
    manager = await hub.auth(hub.a, Role.MANAGER)
    stores = await hub.client.get("/api/v1/stores", headers=manager)
    assert [s["code"] for s in stores.json()] == ["001", "002"]
    one = await hub.client.get(f"/api/v1/stores/{store2}", headers=manager)
    assert one.json()["name"] == "Sucursal Ñuñoa" and one.json()["warehouse_id"] == str(warehouse2)
    warehouses = await hub.client.get("/api/v1/warehouses", headers=manager)
    assert {w["id"] for w in warehouses.json()} == {str(hub.a.warehouse_id), str(warehouse2)}

    # a cashier bound to the first store sees only it
    cashier = await hub.auth(hub.a, Role.CASHIER, store_id=hub.a.store_id)
    assert [s["id"] for s in (await hub.client.get("/api/v1/stores", headers=cashier)).json()] == [
        str(hub.a.store_id)
    ]
    assert (await hub.client.get(f"/api/v1/stores/{store2}", headers=cashier)).status_code == 404
    visible = await hub.client.get("/api/v1/warehouses", headers=cashier)
    assert [w["id"] for w in visible.json()] == [str(hub.a.warehouse_id)]
    assert (await hub.client.get(f"/api/v1/warehouses/{warehouse2}", headers=cashier)).status_code == 404
    assert (
        await hub.client.get(f"/api/v1/warehouses/{warehouse2}/stock", headers=cashier)
    ).status_code == 404


async def test_stock_levels(hub: Hub) -> None:
    manager = await hub.auth(hub.a, Role.MANAGER)
    response = await hub.client.get(f"/api/v1/warehouses/{hub.a.warehouse_id}/stock", headers=manager)
    assert response.status_code == 200
    assert response.json() == [
        {
            "warehouse_id": str(hub.a.warehouse_id), "product_id": str(hub.a.product_id), "quantity": 50_000,
            "value": 40_000, "avg_cost": 800 * 10_000, "updated_at": response.json()[0]["updated_at"],
        }
    ]  # fmt: skip
    cashier = await hub.auth(hub.a, Role.CASHIER)
    as_cashier = await hub.client.get(f"/api/v1/warehouses/{hub.a.warehouse_id}/stock", headers=cashier)
    assert (
        as_cashier.json()[0]["quantity"] == 50_000 and as_cashier.json()[0]["value"] is None
    )  # cost is private
    filtered = await hub.client.get(
        f"/api/v1/warehouses/{hub.a.warehouse_id}/stock",
        params={"product_id": str(uuid.uuid4())},
        headers=manager,
    )
    assert filtered.json() == []


async def test_register_crud(hub: Hub) -> None:
    manager = await hub.auth(hub.a, Role.MANAGER)
    created = await hub.client.post(
        "/api/v1/registers",
        json={"store_id": str(hub.a.store_id), "code": "002", "name": "Caja 2"},
        headers=manager,
    )
    assert created.status_code == 201, created.text
    reg = created.json()
    duplicate = await hub.client.post(
        "/api/v1/registers",
        json={"store_id": str(hub.a.store_id), "code": "002", "name": "Otra"},
        headers=manager,
    )
    assert duplicate.status_code == 409
    listed = await hub.client.get(
        "/api/v1/registers", params={"store_id": str(hub.a.store_id)}, headers=manager
    )
    assert [r["code"] for r in listed.json()] == ["001", "002"]
    patched = await hub.client.patch(
        f"/api/v1/registers/{reg['id']}", json={"name": "Caja rápida"}, headers=manager
    )
    assert (
        patched.status_code == 200
        and patched.json()["name"] == "Caja rápida"
        and patched.json()["code"] == "002"
    )
    bad = await hub.client.patch(f"/api/v1/registers/{reg['id']}", json={"code": "a b"}, headers=manager)
    assert bad.status_code == 400
    busy = await hub.client.delete(f"/api/v1/registers/{hub.a.register_id}", headers=manager)
    assert busy.status_code == 409  # a device is bound to it
    deleted = await hub.client.delete(f"/api/v1/registers/{reg['id']}", headers=manager)
    assert deleted.status_code == 204
    assert (await hub.client.get(f"/api/v1/registers/{reg['id']}", headers=manager)).status_code == 404


async def test_store_bound_manager_stays_in_their_store(hub: Hub) -> None:
    store2, _, register2 = await _second_store(hub)
    bound = await hub.auth(hub.a, Role.MANAGER, store_id=hub.a.store_id)
    listed = await hub.client.get("/api/v1/registers", headers=bound)
    assert [r["id"] for r in listed.json()] == [str(hub.a.register_id)]
    assert (await hub.client.get(f"/api/v1/registers/{register2}", headers=bound)).status_code == 404
    assert (
        await hub.client.patch(f"/api/v1/registers/{register2}", json={"name": "x"}, headers=bound)
    ).status_code == 404
    create = await hub.client.post(
        "/api/v1/registers", json={"store_id": str(store2), "code": "009", "name": "x"}, headers=bound
    )
    assert create.status_code == 403
