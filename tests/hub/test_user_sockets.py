"""Users' open sockets follow sign-outs, revoked API tokens and changed users, on every hub node.

Two in-process nodes share one Postgres and one Redis: the cashier's sockets are on node B, the owner works
through node A's HTTP API, and B closes the sockets concerned while every other socket stays open: 4401 for
a session signed out or a token revoked (the browser goes to the login), 4409 for a changed user (the
browser reconnects at once, and is welcomed with the new role or refused with 4401).
On a single embedded hub (the in-process bus) the node that served the change closes them itself.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub.auth.principal import Principal
from hub.auth.tokens import SESSION_COOKIE, digest, new_secret, parse_authorization, session_cookie_value
from hub.gateway import route
from schema.models import AuthSession, User
from tests.hub.gateway.conftest import Client, TenantWorld, World, connect, database_url, world  # noqa: F401
from tests.hub.gateway.test_gateway import expect_close
from tests.hub.test_devices_two_nodes import close_code, eventually, nodes  # noqa: F401  (a fixture)


async def user_id_of(node: World, tenant: TenantWorld, role: str) -> uuid.UUID:
    async with node.db.tenant(tenant.tenant_id) as session:
        found = await session.execute(select(User.id).where(User.username == f"u-{role}"))
        return found.scalar_one()


async def open_socket(node: World, token: str | None = None, **kwargs: Any) -> Client:
    socket = await connect(node, token, **kwargs)
    node.sockets.append(socket)
    client = Client(socket)
    welcome = await client.recv()
    assert welcome["type"] == "welcome", welcome
    return client


async def still_open(client: Client) -> None:
    frame = await client.call("ping")
    assert frame["type"] == "pong", frame


async def browser_session(node: World, tenant: TenantWorld, role: str) -> tuple[str, str]:
    """A signed-in browser session of the tenant's user of ``role``: its cookie value and CSRF token."""
    secret, csrf = new_secret(), uuid.uuid4().hex
    user_id = await user_id_of(node, tenant, role)
    async with node.db.tenant(tenant.tenant_id) as session:
        expires_at = datetime.now(UTC) + timedelta(hours=1)
        session.add(AuthSession(id=digest(secret), user_id=user_id, csrf_token=csrf, expires_at=expires_at))
    return session_cookie_value(tenant.tenant_id, secret), csrf


def browser_headers(node: World, cookie: str) -> dict[str, Any]:
    """What a browser's upgrade request carries: the session cookie and our origin."""
    host = node.http.removeprefix("http://")
    return {"additional_headers": {"Cookie": f"{SESSION_COOKIE}={cookie}"}, "origin": f"http://{host}"}


async def open_browser(node: World, cookie: str) -> Client:
    return await open_socket(node, **browser_headers(node, cookie))


async def owner_call(node: World, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {node.a.tokens['owner']}"}
    async with httpx.AsyncClient(base_url=node.http) as http:
        return await http.request(method, f"/api/v1/{path}", headers=headers, **kwargs)


async def sign_out(node: World, cookie: str, csrf: str) -> httpx.Response:
    host = node.http.removeprefix("http://")
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}", "X-CSRF-Token": csrf, "Origin": f"http://{host}"}
    async with httpx.AsyncClient(base_url=node.http) as http:
        return await http.post("/api/v1/auth/logout", headers=headers)


def token_id(bearer: str) -> str:
    return digest(parse_authorization(f"Bearer {bearer}").secret)


# -- two nodes ---------------------------------------------------------------------------------------------


async def test_a_token_revoked_through_one_node_closes_its_sockets_on_the_other(
    nodes: tuple[World, World],  # noqa: F811
) -> None:
    a, b = nodes
    cashier_token = b.a.tokens["cashier"]
    cashier = await open_socket(b, cashier_token)
    manager = await open_socket(b, b.a.tokens["manager"])
    assert b.services.control.holders(b.a.tenant_id) == 2  # each socket holds its tenant's ear
    assert not a.services.control.listening(a.a.tenant_id)

    answer = await owner_call(a, "POST", f"api-tokens/{token_id(cashier_token)}/revoke")
    assert answer.status_code == 200 and answer.json()["revoked_at"] is not None, answer.text

    assert await close_code(cashier) == 4401
    await still_open(manager)
    await expect_close(b, cashier_token, 4401)

    async def held_by_one() -> bool:
        return b.services.control.holders(b.a.tenant_id) == 1  # the closed socket let go

    await eventually(held_by_one)


async def test_signing_out_through_one_node_closes_that_sessions_sockets_on_the_other(
    nodes: tuple[World, World],  # noqa: F811
) -> None:
    a, b = nodes
    cookie, csrf = await browser_session(b, b.a, "cashier")
    other_cookie, _ = await browser_session(b, b.a, "cashier")  # the same cashier, on another browser
    browser = await open_browser(b, cookie)
    other_browser = await open_browser(b, other_cookie)
    manager = await open_socket(b, b.a.tokens["manager"])

    answer = await sign_out(a, cookie, csrf)
    assert answer.status_code == 204, answer.text

    assert await close_code(browser) == 4401
    await still_open(other_browser)
    await still_open(manager)


async def test_a_user_deactivated_through_one_node_loses_every_socket_on_the_other(
    nodes: tuple[World, World],  # noqa: F811
) -> None:
    a, b = nodes
    cashier_id = await user_id_of(a, a.a, "cashier")
    cookie, _ = await browser_session(b, b.a, "cashier")
    till = await open_socket(b, b.a.tokens["cashier"])
    browser = await open_browser(b, cookie)
    manager = await open_socket(b, b.a.tokens["manager"])

    answer = await owner_call(a, "PATCH", f"users/{cashier_id}", json={"active": False})
    assert answer.status_code == 200 and answer.json()["active"] is False, answer.text

    assert await close_code(till) == 4409  # changed: reconnect...
    assert await close_code(browser) == 4409
    await still_open(manager)
    await expect_close(b, b.a.tokens["cashier"], 4401)  # ...and be refused
    await expect_close(b, None, 4401, **browser_headers(b, cookie))


async def test_a_users_role_changed_through_one_node_reconnects_with_it_on_the_other(
    nodes: tuple[World, World],  # noqa: F811
) -> None:
    a, b = nodes
    cashier_id = await user_id_of(a, a.a, "cashier")
    till = await open_socket(b, b.a.tokens["cashier"])
    manager = await open_socket(b, b.a.tokens["manager"])

    renamed = await owner_call(a, "PATCH", f"users/{cashier_id}", json={"display_name": "Caja 1"})
    assert renamed.status_code == 200, renamed.text
    await still_open(till)  # nothing that a socket carries changed

    promoted = await owner_call(a, "PATCH", f"users/{cashier_id}", json={"role": "manager"})
    assert promoted.status_code == 200, promoted.text
    assert await close_code(till) == 4409
    await still_open(manager)
    async with connect(b, b.a.tokens["cashier"]) as socket:
        welcome = json.loads(await socket.recv())
    assert welcome["type"] == "welcome" and welcome["role"] == "manager"


async def test_a_token_revoked_while_its_socket_connects_to_another_node_is_not_welcomed(
    nodes: tuple[World, World],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = nodes
    cashier_token = b.a.tokens["cashier"]
    real = route.authenticate
    revoked: list[int] = []

    async def revoked_meanwhile(socket: Any, services: Any) -> Principal:
        principal = await real(socket, services)
        if not revoked:
            # Good a moment ago; the revocation commits on A before B listens to the tenant.
            answer = await owner_call(a, "POST", f"api-tokens/{token_id(cashier_token)}/revoke")
            revoked.append(answer.status_code)
        return principal

    monkeypatch.setattr(route, "authenticate", revoked_meanwhile)
    await expect_close(b, cashier_token, 4401)
    assert revoked == [200]
    assert not b.services.sockets
    assert b.services.control.holders(b.a.tenant_id) == 0  # the refused socket holds nothing


# -- one embedded node -------------------------------------------------------------------------------------


async def test_on_a_single_node_sign_out_revocation_and_deletion_close_the_sockets(world: World) -> None:  # noqa: F811
    assert world.services.redis is None  # the in-process bus
    cashier_id = await user_id_of(world, world.a, "cashier")
    cookie, csrf = await browser_session(world, world.a, "cashier")
    browser = await open_browser(world, cookie)
    till = await open_socket(world, world.a.tokens["cashier"])
    manager = await open_socket(world, world.a.tokens["manager"])
    other_tenant = await open_socket(world, world.b.tokens["cashier"])

    assert (await sign_out(world, cookie, csrf)).status_code == 204
    assert await close_code(browser) == 4401
    await still_open(till)

    answer = await owner_call(world, "POST", f"api-tokens/{token_id(world.a.tokens['manager'])}/revoke")
    assert answer.status_code == 200, answer.text
    assert await close_code(manager) == 4401
    await still_open(till)

    till_again = await open_socket(world, world.a.tokens["cashier"])
    assert (await owner_call(world, "DELETE", f"users/{cashier_id}")).status_code == 204
    assert await close_code(till) == 4409
    assert await close_code(till_again) == 4409
    await still_open(other_tenant)
    await expect_close(world, world.a.tokens["cashier"], 4401)


async def test_a_role_change_asks_the_browser_to_reconnect_and_a_deactivation_then_refuses_it(
    world: World,  # noqa: F811
) -> None:
    """4409, not 4401: the cashier's session still holds, so the page must not be sent to the login."""
    cashier_id = await user_id_of(world, world.a, "cashier")
    cookie, _ = await browser_session(world, world.a, "cashier")
    browser = await open_browser(world, cookie)
    manager = await open_socket(world, world.a.tokens["manager"])

    promoted = await owner_call(world, "PATCH", f"users/{cashier_id}", json={"role": "manager"})
    assert promoted.status_code == 200, promoted.text
    assert await close_code(browser) == 4409
    await still_open(manager)
    async with connect(world, None, **browser_headers(world, cookie)) as socket:  # the same session
        welcome = json.loads(await socket.recv())
    assert welcome["type"] == "welcome", welcome
    assert (welcome["user_id"], welcome["role"]) == (str(cashier_id), "manager")

    browser = await open_browser(world, cookie)
    answer = await owner_call(world, "PATCH", f"users/{cashier_id}", json={"active": False})
    assert answer.status_code == 200, answer.text
    assert await close_code(browser) == 4409
    await expect_close(world, None, 4401, **browser_headers(world, cookie))  # its reconnect is refused
    await still_open(manager)

    other_cookie, other_csrf = await browser_session(world, world.a, "manager")
    signed_in = await open_browser(world, other_cookie)
    assert (await sign_out(world, other_cookie, other_csrf)).status_code == 204
    assert await close_code(signed_in) == 4401  # a sign-out still sends the page to the login


async def test_a_role_changed_while_its_socket_connects_closes_it_with_4409(
    world: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cashier_id = await user_id_of(world, world.a, "cashier")
    cookie, _ = await browser_session(world, world.a, "cashier")
    real = route.authenticate
    changed: list[int] = []

    async def changed_meanwhile(socket: Any, services: Any) -> Principal:
        principal = await real(socket, services)
        if not changed:
            # Good a moment ago; the change commits before the node listens, unseen by the socket.
            answer = await owner_call(world, "PATCH", f"users/{cashier_id}", json={"role": "manager"})
            changed.append(answer.status_code)
        return principal

    monkeypatch.setattr(route, "authenticate", changed_meanwhile)
    await expect_close(world, None, 4409, **browser_headers(world, cookie))
    assert changed == [200]
    assert not world.services.sockets
    async with connect(world, None, **browser_headers(world, cookie)) as socket:  # the reconnect
        welcome = json.loads(await socket.recv())
    assert (welcome["type"], welcome["role"]) == ("welcome", "manager")
