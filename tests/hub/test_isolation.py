"""Tenant isolation of the HTTP API, on SQLite (ORM filter) and on Postgres (Row-Level Security too).

A's owner aims every endpoint at B's ids, in paths and in bodies: each answer is 404 (never 403, which
would confirm the id exists), lists hold only A's rows, and B's rows are byte-for-byte unchanged.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from schema.models import Base, Role
from tests.hub.conftest import Hub, HubFactory
from tests.support.tenants import TenantFixture


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_url(request: pytest.FixtureRequest) -> str | None:
    # Synchronous on purpose: pg_url sets up its server with asyncio.run(), outside any running loop.
    return None if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def iso_hub(backend_url: str | None, hub_factory: HubFactory) -> Hub:
    hub: Hub = await hub_factory(database_url=backend_url)
    return hub


async def snapshot(hub: Hub, tenant: TenantFixture) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tenant in every table, in a stable order; not when the outbox relay marked a row
    published (it does so a moment after the commit, so a snapshot taken just after a change may or may not
    see it: bookkeeping of the relay, not data a request changed)."""
    result: dict[str, list[tuple[Any, ...]]] = {}
    async with hub.db.tenant(tenant.tenant_id) as session:
        for table in Base.metadata.sorted_tables:
            column = table.c.id if table.name == "tenants" else table.c.get("tenant_id")
            if column is None:
                continue
            columns = [c for c in table.c if not (table.name == "outbox" and c.name == "published_at")]
            rows = (await session.execute(select(*columns).where(column == tenant.tenant_id))).all()
            result[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return result


def foreign_targets(b: TenantFixture) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every way to name one of B's rows: (method, path, body)."""
    targets: list[tuple[str, str, dict[str, Any] | None]] = []
    for path in (
        f"/api/v1/stores/{b.store_id}",
        f"/api/v1/warehouses/{b.warehouse_id}",
        f"/api/v1/warehouses/{b.warehouse_id}/stock",
        f"/api/v1/registers/{b.register_id}",
        f"/api/v1/categories/{b.category_id}",
        f"/api/v1/products/{b.product_id}",
        f"/api/v1/users/{b.owner_id}",
        f"/api/v1/users/{b.cashier_id}",
        f"/api/v1/devices/{b.device_id}",
        f"/api/v1/print-jobs/{b.print_job_id}/escpos",
        f"/api/v1/kitchen/routes?store_id={b.store_id}",
    ):
        targets.append(("GET", path, None))
    patches = {
        f"/api/v1/registers/{b.register_id}": {"name": "pwned"},
        f"/api/v1/categories/{b.category_id}": {"name": "pwned"},
        f"/api/v1/products/{b.product_id}": {"price": 1},
        f"/api/v1/users/{b.cashier_id}": {"password": "pwned-password", "role": "owner"},
    }
    targets += [("PATCH", path, body) for path, body in patches.items()]
    targets += [("DELETE", path, None) for path in patches]
    targets += [
        ("POST", f"/api/v1/devices/{b.device_id}/revoke", None),
        ("PATCH", f"/api/v1/devices/{b.device_id}", {"name": "pwned"}),
        ("POST", f"/api/v1/print-jobs/{b.print_job_id}/reprint", None),
        ("PUT", f"/api/v1/kitchen/stations/{b.kitchen_station_id}/settings",
         {"warn_after_s": 60, "late_after_s": 120}),
        ("PUT", f"/api/v1/kitchen/routes?store_id={b.store_id}", {"routes": []}),
        ("POST", f"/api/v1/api-tokens/{b.api_token_id}/revoke", None),
        # B's ids inside bodies
        ("POST", "/api/v1/registers", {"store_id": str(b.store_id), "code": "X1", "name": "x"}),
        ("POST", "/api/v1/products", {"sku": "X1", "name": "x", "price": 1, "tax_class": "cl_iva",
                                      "category_id": str(b.category_id)}),
        ("PATCH", "/api/v1/products/{a_product}", {"category_id": str(b.category_id)}),
        ("POST", "/api/v1/devices", {"store_id": str(b.store_id), "kind": "scale", "name": "x"}),
        ("POST", "/api/v1/users", {"username": "spy", "display_name": "x", "role": "cashier",
                                   "password": "12345678", "store_id": str(b.store_id)}),
        ("PATCH", "/api/v1/users/{a_cashier}", {"store_id": str(b.store_id)}),
        ("POST", "/api/v1/api-tokens", {"name": "x", "user_id": str(b.owner_id)}),
    ]  # fmt: skip
    return targets


async def test_foreign_ids_are_not_found_and_untouched(iso_hub: Hub) -> None:
    hub = iso_hub
    a, b = hub.a, hub.b
    before = await snapshot(hub, b)
    owner = hub.owner(a)
    for method, template, body in foreign_targets(b):
        path = template.format(a_product=a.product_id, a_cashier=a.cashier_id)
        response = await hub.client.request(method, path, json=body, headers=owner)
        assert response.status_code == 404, (method, path, response.status_code, response.text)
        assert response.json()["code"] == "not_found"
    # the same through a cookie session (with its CSRF token)
    hub.client.cookies.set("storehub_session", a.session_cookie)
    for method, template, body in foreign_targets(b)[:5]:
        response = await hub.client.request(
            method, template, json=body, headers={"X-CSRF-Token": a.csrf_token}
        )
        assert response.status_code == 404, (method, template)
    hub.client.cookies.clear()
    assert await snapshot(hub, b) == before


async def test_lists_hold_only_own_rows(iso_hub: Hub) -> None:
    hub = iso_hub
    a, b = hub.a, hub.b
    owner = hub.owner(a)
    expected: dict[str, set[str]] = {
        "/api/v1/stores": {str(a.store_id)},
        "/api/v1/warehouses": {str(a.warehouse_id)},
        "/api/v1/registers": {str(a.register_id)},
        "/api/v1/categories": {str(a.category_id)},
        "/api/v1/users": {str(u) for u in a.users.values()},
        "/api/v1/devices": {str(a.device_id)},
        "/api/v1/api-tokens": {a.api_token_id},
    }
    for path, ids in expected.items():
        response = await hub.client.get(path, headers=owner)
        assert response.status_code == 200, path
        assert {row["id"] for row in response.json()} == ids, path
    products = await hub.client.get("/api/v1/products", params={"include_inactive": "true"}, headers=owner)
    assert [p["id"] for p in products.json()["items"]] == [str(a.product_id)]
    # B's barcode and name find nothing from A (B has the same product name "Pan amasado")
    by_code = await hub.client.get("/api/v1/products", params={"q": b.barcode}, headers=owner)
    assert by_code.json()["items"] == []
    by_name = await hub.client.get("/api/v1/products", params={"q": "pan"}, headers=owner)
    assert [p["id"] for p in by_name.json()["items"]] == [str(a.product_id)]
    stock = await hub.client.get(f"/api/v1/warehouses/{a.warehouse_id}/stock", headers=owner)
    assert [s["product_id"] for s in stock.json()] == [str(a.product_id)]


async def test_pairing_code_of_another_tenant(iso_hub: Hub) -> None:
    hub = iso_hub
    a, b = hub.a, hub.b
    created = await hub.client.post(
        "/api/v1/devices", json={"store_id": str(b.store_id), "kind": "scale", "name": "Balanza B"},
        headers=hub.owner(b),
    )  # fmt: skip
    code = created.json()["pairing_code"]
    before = await snapshot(hub, b)
    response = await hub.client.post("/api/v1/devices/pair", json={"tenant": a.slug, "code": code})
    assert response.status_code == 401
    assert await snapshot(hub, b) == before
    ok = await hub.client.post("/api/v1/devices/pair", json={"tenant": b.slug, "code": code})
    assert ok.status_code == 200


async def test_sessions_and_tokens_name_their_tenant(iso_hub: Hub) -> None:
    hub = iso_hub
    a, b = hub.a, hub.b
    for token in (a.api_token, a.device_token, await hub.token(a, Role.MANAGER)):
        kind, _tenant, secret = token.split("_")
        forged = f"{kind}_{b.tenant_id.hex}_{secret}"
        response = await hub.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401
    hub.client.cookies.set("storehub_session", f"{b.tenant_id.hex}.{a.session_cookie.split('.')[1]}")
    assert (await hub.client.get("/api/v1/auth/me")).status_code == 401
    hub.client.cookies.clear()
    assert uuid.UUID(hex=a.session_cookie.split(".")[0]) == a.tenant_id
