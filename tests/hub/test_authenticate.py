"""``hub.auth.authenticate`` as the WebSocket gateway calls it: cookie upgrades must be same-origin."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.connection import ASGIConnection

from hub.auth.authenticate import authenticate
from hub.auth.tokens import SESSION_COOKIE
from schema.errors import AuthenticationError, PermissionDeniedError
from schema.models import Role
from tests.hub.conftest import Hub, HubFactory


def connection(
    kind: str = "websocket", method: str = "GET", **headers: str
) -> ASGIConnection[Any, Any, Any, Any]:
    scope: dict[str, Any] = {
        "type": kind,
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "headers": [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()],
        "state": {},
    }
    if kind == "http":
        scope["method"] = method
    return ASGIConnection(scope)  # type: ignore[arg-type]


async def test_websocket_cookie_needs_same_origin(hub: Hub) -> None:
    cookie = f"{SESSION_COOKIE}={hub.a.session_cookie}"
    ok = await authenticate(
        connection(cookie=cookie, host="hub.test", origin="http://hub.test"), hub.services
    )
    assert ok.user_id == hub.a.owner_id
    assert ok.tenant_id == hub.a.tenant_id
    assert ok.role is Role.OWNER
    for headers in (
        {"host": "hub.test", "origin": "https://evil.example"},
        {"host": "hub.test", "origin": "http://hub.test.evil.example"},
        {"host": "hub.test"},  # browsers always send Origin on upgrades: none means not a browser we trust
        {"host": "hub.test", "origin": "null"},
    ):
        with pytest.raises(PermissionDeniedError):
            await authenticate(connection(cookie=cookie, **headers), hub.services)


async def test_websocket_origin_may_be_the_public_url(hub_factory: HubFactory) -> None:
    hub: Hub = await hub_factory(public_url="https://tienda.example.cl")
    cookie = f"{SESSION_COOKIE}={hub.a.session_cookie}"
    behind_proxy = connection(cookie=cookie, host="10.0.0.5:8000", origin="https://tienda.example.cl")
    assert (await authenticate(behind_proxy, hub.services)).tenant_id == hub.a.tenant_id


async def test_websocket_bearer_needs_no_origin(hub: Hub) -> None:
    device = await authenticate(connection(authorization=f"Bearer {hub.a.device_token}"), hub.services)
    assert device.kind == "device"
    assert device.device_id == hub.a.device_id
    assert device.store_id == hub.a.store_id
    assert not device.is_at_least(Role.CASHIER)
    user = await authenticate(connection(authorization=f"Bearer {hub.a.api_token}"), hub.services)
    assert user.kind == "user"
    assert user.user_id == hub.a.owner_id
    assert user.csrf_token is None


async def test_no_credentials_is_unauthenticated(hub: Hub) -> None:
    with pytest.raises(AuthenticationError):
        await authenticate(connection(host="hub.test", origin="http://hub.test"), hub.services)


async def test_http_unsafe_methods_check_csrf_here_too(hub: Hub) -> None:
    cookie = f"{SESSION_COOKIE}={hub.a.session_cookie}"
    with pytest.raises(PermissionDeniedError):
        await authenticate(connection("http", "POST", cookie=cookie), hub.services)
    principal = await authenticate(
        connection("http", "POST", cookie=cookie, x_csrf_token=hub.a.csrf_token), hub.services
    )
    assert principal.csrf_token == hub.a.csrf_token
    assert (
        await authenticate(connection("http", "GET", cookie=cookie), hub.services)
    ).user_id == hub.a.owner_id
