"""Receiving goods updates the weighted-average cost; every movement is in the product's ledger."""

from __future__ import annotations

import uuid

from schema.models import Role
from tests.hub.conftest import Hub


async def test_a_receipt_moves_the_average_cost_and_lands_in_the_ledger(hub: Hub) -> None:
    manager = await hub.auth(hub.a, Role.MANAGER)
    url = f"/api/v1/warehouses/{hub.a.warehouse_id}/receipts"
    # make_tenant stocks 50 units at 800: 10 more at 1,100 average (50*800 + 10*1100) / 60 = 850.
    body = {"lines": [{"product_id": str(hub.a.product_id), "quantity": 10_000, "unit_cost": 1100}]}
    received = await hub.client.post(url, json=body, headers=manager)
    assert received.status_code == 201, received.text
    assert received.json() == [
        {"product_id": str(hub.a.product_id), "quantity": 60_000, "avg_cost": 850 * 10_000}
    ]
    ledger = await hub.client.get(f"/api/v1/products/{hub.a.product_id}/movements", headers=manager)
    assert ledger.status_code == 200
    newest = ledger.json()[0]
    assert (newest["kind"], newest["quantity"], newest["cost"]) == ("receipt", 10_000, 11_000)
    assert (newest["quantity_after"], newest["avg_cost_after"]) == (60_000, 850 * 10_000)
    assert [m["kind"] for m in ledger.json()] == ["receipt", "sale"]  # make_tenant's sale is older


async def test_bad_receipts_are_refused_and_change_nothing(hub: Hub) -> None:
    manager = await hub.auth(hub.a, Role.MANAGER)
    cashier = await hub.auth(hub.a, Role.CASHIER)
    url = f"/api/v1/warehouses/{hub.a.warehouse_id}/receipts"
    line = {"product_id": str(hub.a.product_id), "quantity": 1000, "unit_cost": 100}
    cases = [
        (manager, url, {"lines": []}, 400),
        (manager, url, {"lines": [line | {"quantity": 0}]}, 400),
        (manager, url, {"lines": [line | {"unit_cost": -1}]}, 400),
        (manager, url, {"lines": [line, line]}, 400),
        (manager, url, {"lines": [line | {"product_id": str(uuid.uuid4())}]}, 404),
        (manager, url, {"lines": [line | {"product_id": str(hub.b.product_id)}]}, 404),
        (manager, f"/api/v1/warehouses/{hub.b.warehouse_id}/receipts", {"lines": [line]}, 404),
        (cashier, url, {"lines": [line]}, 403),
    ]
    for headers, target, body, status in cases:
        response = await hub.client.post(target, json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
    stock = await hub.client.get(f"/api/v1/warehouses/{hub.a.warehouse_id}/stock", headers=manager)
    assert stock.json()[0]["quantity"] == 50_000 and stock.json()[0]["avg_cost"] == 800 * 10_000
    other = await hub.client.get(f"/api/v1/products/{hub.b.product_id}/movements", headers=manager)
    assert other.status_code == 404
