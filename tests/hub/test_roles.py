"""Who may do what: cashiers and up read; managers write catalog, registers, devices; owners manage people."""

from __future__ import annotations

from typing import Any

import pytest

from schema.models import Role
from tests.hub.conftest import Hub

CASHIER_READS = [
    "/api/v1/products",
    "/api/v1/categories",
    "/api/v1/stores",
    "/api/v1/registers",
    "/api/v1/warehouses",
]
MANAGER_READS = ["/api/v1/devices"]
OWNER_READS = ["/api/v1/users", "/api/v1/api-tokens"]


def manager_writes(hub: Hub) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("POST", "/api/v1/products", {"sku": "R-1", "name": "Ron", "price": 5990, "tax_class": "cl_iva"}),
        ("PATCH", f"/api/v1/products/{hub.a.product_id}", {"price": 1}),
        ("DELETE", f"/api/v1/products/{hub.a.product_id}", None),
        ("POST", "/api/v1/categories", {"name": "Licores"}),
        ("PATCH", f"/api/v1/categories/{hub.a.category_id}", {"sort": 9}),
        ("POST", "/api/v1/registers", {"store_id": str(hub.a.store_id), "code": "R9", "name": "Caja 9"}),
        ("PATCH", f"/api/v1/registers/{hub.a.register_id}", {"name": "Caja uno"}),
        ("POST", "/api/v1/devices", {"store_id": str(hub.a.store_id), "kind": "drawer", "name": "Gaveta"}),
        ("POST", f"/api/v1/devices/{hub.a.device_id}/revoke", None),
    ]


def owner_writes(hub: Hub) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        (
            "POST",
            "/api/v1/users",
            {"username": "nuevo", "display_name": "N", "role": "cashier", "password": "12345678"},
        ),
        ("PATCH", f"/api/v1/users/{hub.a.cashier_id}", {"display_name": "Cajera"}),
        ("DELETE", f"/api/v1/users/{hub.a.users[Role.KITCHEN]}", None),
        ("POST", "/api/v1/api-tokens", {"name": "x"}),
        ("POST", f"/api/v1/api-tokens/{hub.a.api_token_id}/revoke", None),
    ]


async def _status(hub: Hub, headers: dict[str, str], method: str, path: str, body: Any = None) -> int:
    response = await hub.client.request(method, path, json=body, headers=headers)
    assert response.status_code != 401, response.text
    if response.status_code == 403:
        assert response.json()["code"] == "forbidden"
    return response.status_code


@pytest.mark.parametrize("role", list(Role))
async def test_reads(hub: Hub, role: Role) -> None:
    headers = await hub.auth(hub.a, role)
    rank = {Role.KITCHEN: 0, Role.CASHIER: 1, Role.MANAGER: 2, Role.OWNER: 3}[role]
    for path in CASHIER_READS:
        assert (await _status(hub, headers, "GET", path) == 403) == (rank < 1), (role, path)
    for path in MANAGER_READS:
        assert (await _status(hub, headers, "GET", path) == 403) == (rank < 2), (role, path)
    for path in OWNER_READS:
        assert (await _status(hub, headers, "GET", path) == 403) == (rank < 3), (role, path)


@pytest.mark.parametrize("role", [Role.KITCHEN, Role.CASHIER])
async def test_staff_cannot_write_the_catalog(hub: Hub, role: Role) -> None:
    headers = await hub.auth(hub.a, role)
    for method, path, body in manager_writes(hub) + owner_writes(hub):
        assert await _status(hub, headers, method, path, body) == 403, (role, method, path)


async def test_manager_writes_catalog_but_not_people(hub: Hub) -> None:
    headers = await hub.auth(hub.a, Role.MANAGER)
    for method, path, body in manager_writes(hub):
        assert await _status(hub, headers, method, path, body) in (200, 201, 204), (method, path)
    for method, path, body in owner_writes(hub):
        assert await _status(hub, headers, method, path, body) == 403, (method, path)


async def test_owner_does_everything(hub: Hub) -> None:
    headers = hub.owner(hub.a)
    for method, path, body in manager_writes(hub) + owner_writes(hub):
        assert await _status(hub, headers, method, path, body) in (200, 201, 204), (method, path)


async def test_devices_are_not_users(hub: Hub) -> None:
    headers = {"Authorization": f"Bearer {hub.a.device_token}"}
    for path in CASHIER_READS + MANAGER_READS + OWNER_READS:
        assert await _status(hub, headers, "GET", path) == 403, path
    for method, path, body in manager_writes(hub):
        assert await _status(hub, headers, method, path, body) == 403, (method, path)
