"""Sign-in, sessions, CSRF and bearer tokens over the HTTP API."""

from __future__ import annotations

from datetime import UTC, datetime
from http.cookies import SimpleCookie

from argon2 import PasswordHasher
from sqlalchemy import select, update

from hub.auth.sessions import BAD_CREDENTIALS
from hub.auth.tokens import SESSION_COOKIE, digest
from schema.models import ApiToken, AuthSession, Device, Role, User
from tests.hub.conftest import Hub, HubFactory

LOGIN = "/api/v1/auth/login"


def _cookie(response_header: str) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    jar.load(response_header)
    return jar


async def test_login_sets_session_cookie_and_returns_csrf_and_identity(hub: Hub) -> None:
    response = await hub.client.post(
        LOGIN, json={"tenant": hub.a.slug, "username": "manager", "password": hub.a.password}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["username"] == "manager"
    assert body["user"]["role"] == "manager"
    assert "password_hash" not in body["user"]
    assert body["tenant"] == {
        "id": str(hub.a.tenant_id), "slug": hub.a.slug, "name": f"Tienda {hub.a.slug}", "country": "CL",
        "currency": "CLP",
    }  # fmt: skip
    assert len(body["csrf_token"]) >= 32
    header = response.headers["set-cookie"]
    morsel = _cookie(header)[SESSION_COOKIE]
    tenant_hex, _, secret = morsel.value.partition(".")
    assert tenant_hex == hub.a.tenant_id.hex
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "strict"
    assert morsel["path"] == "/"
    assert not morsel["secure"]  # plain http public URL
    async with hub.db.tenant(hub.a.tenant_id) as session:
        row = await session.get(AuthSession, (hub.a.tenant_id, digest(secret)))
    assert row is not None
    assert row.user_id == hub.a.users[Role.MANAGER]
    assert row.csrf_token == body["csrf_token"]

    me = await hub.client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["user"]["username"] == "manager"
    assert me.json()["csrf_token"] == body["csrf_token"]


async def test_cookie_is_secure_when_public_url_is_https(hub_factory: HubFactory) -> None:
    hub: Hub = await hub_factory(public_url="https://hub.example.cl", base_url="https://hub.example.cl")
    response = await hub.client.post(
        LOGIN, json={"tenant": hub.a.slug, "username": "owner", "password": hub.a.password}
    )
    assert response.status_code == 200
    assert _cookie(response.headers["set-cookie"])[SESSION_COOKIE]["secure"] is True


async def test_every_login_failure_is_the_same_401(hub: Hub) -> None:
    async with hub.db.tenant(hub.a.tenant_id) as session:
        await session.execute(update(User).where(User.id == hub.a.users[Role.KITCHEN]).values(active=False))
    attempts = [
        {"tenant": "no-such-tenant", "username": "owner", "password": hub.a.password},
        {"tenant": hub.a.slug, "username": "nobody", "password": hub.a.password},
        {"tenant": hub.a.slug, "username": "owner", "password": "wrong password"},
        {"tenant": hub.a.slug, "username": "kitchen", "password": hub.a.password},  # inactive
        {"tenant": hub.b.slug, "username": "owner", "password": "x" + hub.a.password},
    ]
    bodies = []
    for attempt in attempts:
        response = await hub.client.post(LOGIN, json=attempt)
        assert response.status_code == 401, attempt
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "set-cookie" not in response.headers
        body = response.json()
        bodies.append((body["code"], body["detail"], body["title"]))
    assert set(bodies) == {("unauthenticated", BAD_CREDENTIALS, "Not authenticated")}


async def test_login_wants_json_and_same_origin(hub: Hub) -> None:
    form = await hub.client.post(
        LOGIN,
        content=f'{{"tenant": "{hub.a.slug}", "username": "owner", "password": "{hub.a.password}"}}',
        headers={"Content-Type": "text/plain"},
    )
    assert form.status_code == 400
    assert form.json()["code"] == "invalid"
    payload = {"tenant": hub.a.slug, "username": "owner", "password": hub.a.password}
    cross = await hub.client.post(LOGIN, json=payload, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert cross.json()["code"] == "forbidden"
    same = await hub.client.post(LOGIN, json=payload, headers={"Origin": "http://hub.test"})
    assert same.status_code == 200


async def test_username_and_tenant_are_case_insensitive(hub: Hub) -> None:
    response = await hub.client.post(
        LOGIN, json={"tenant": hub.a.slug.upper(), "username": " Owner ", "password": hub.a.password}
    )
    assert response.status_code == 200


async def test_logout_deletes_session_and_clears_cookie(hub: Hub) -> None:
    csrf = await hub.login(hub.a)
    cookie = hub.client.cookies[SESSION_COOKIE]
    refused = await hub.client.post("/api/v1/auth/logout")
    assert refused.status_code == 403  # no CSRF header
    response = await hub.client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 204
    morsel = _cookie(response.headers["set-cookie"])[SESSION_COOKIE]
    assert morsel.value == ""
    assert morsel["max-age"] == "0"
    async with hub.db.tenant(hub.a.tenant_id) as session:
        secret = cookie.partition(".")[2]
        assert await session.get(AuthSession, (hub.a.tenant_id, digest(secret))) is None
    hub.client.cookies.set(SESSION_COOKIE, cookie)  # replaying the old cookie gets nowhere
    assert (await hub.client.get("/api/v1/auth/me")).status_code == 401


async def test_expired_session_is_refused(hub: Hub) -> None:
    async with hub.db.tenant(hub.a.tenant_id) as session:
        await session.execute(
            update(AuthSession)
            .where(AuthSession.id == hub.a.auth_session_id)
            .values(expires_at=datetime(2020, 1, 1, tzinfo=UTC))
        )
    hub.client.cookies.set(SESSION_COOKIE, hub.a.session_cookie)
    response = await hub.client.get("/api/v1/auth/me")
    assert response.status_code == 401


async def test_csrf_is_required_on_unsafe_cookie_requests(hub: Hub) -> None:
    hub.client.cookies.set(SESSION_COOKIE, hub.a.session_cookie)
    body = {"name": "Lácteos"}
    assert (await hub.client.get("/api/v1/categories")).status_code == 200  # safe method: no token needed
    missing = await hub.client.post("/api/v1/categories", json=body)
    assert missing.status_code == 403
    assert missing.json()["reason"] == "csrf"
    wrong = await hub.client.post("/api/v1/categories", json=body, headers={"X-CSRF-Token": "x" * 64})
    assert wrong.status_code == 403
    other = await hub.client.post("/api/v1/categories", json=body, headers={"X-CSRF-Token": hub.b.csrf_token})
    assert other.status_code == 403
    ok = await hub.client.post("/api/v1/categories", json=body, headers={"X-CSRF-Token": hub.a.csrf_token})
    assert ok.status_code == 201, ok.text
    for method in ("PATCH", "DELETE"):
        cat = ok.json()["id"]
        response = await hub.client.request(method, f"/api/v1/categories/{cat}", json={"name": "x"})
        assert response.status_code == 403, method


async def test_bearer_requests_need_no_csrf(hub: Hub) -> None:
    response = await hub.client.post("/api/v1/categories", json={"name": "Bebidas"}, headers=hub.owner(hub.a))
    assert response.status_code == 201, response.text


async def test_revoked_api_token_and_inactive_user_are_refused(hub: Hub) -> None:
    headers = hub.owner(hub.a)
    assert (await hub.client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    async with hub.db.tenant(hub.a.tenant_id) as session:
        await session.execute(
            update(ApiToken).where(ApiToken.id == hub.a.api_token_id).values(revoked_at=datetime.now(UTC))
        )
    revoked = await hub.client.get("/api/v1/auth/me", headers=headers)
    assert revoked.status_code == 401
    assert revoked.json()["code"] == "unauthenticated"

    manager = await hub.auth(hub.a, Role.MANAGER)
    assert (await hub.client.get("/api/v1/stores", headers=manager)).status_code == 200
    async with hub.db.tenant(hub.a.tenant_id) as session:
        token_user = (
            await session.execute(
                select(ApiToken.user_id).where(ApiToken.id == digest(manager["Authorization"][-64:]))
            )
        ).scalar_one()
        await session.execute(update(User).where(User.id == token_user).values(active=False))
    assert (await hub.client.get("/api/v1/stores", headers=manager)).status_code == 401


async def test_device_token_identifies_the_device(hub: Hub) -> None:
    headers = {"Authorization": f"Bearer {hub.a.device_token}"}
    me = await hub.client.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["kind"] == "device"
    assert body["device"]["id"] == str(hub.a.device_id)
    assert body["device"]["store_id"] == str(hub.a.store_id)
    assert body["user"] is None
    # a device is not a user: no back-office reads
    assert (await hub.client.get("/api/v1/products", headers=headers)).status_code == 403
    async with hub.db.tenant(hub.a.tenant_id) as session:
        await session.execute(
            update(Device).where(Device.id == hub.a.device_id).values(revoked_at=datetime.now(UTC))
        )
    assert (await hub.client.get("/api/v1/auth/me", headers=headers)).status_code == 401


async def test_malformed_and_foreign_tokens_are_401(hub: Hub) -> None:
    secret = hub.a.api_token.rsplit("_", 1)[1]
    bad = [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer shk_",
        f"Bearer shx_{hub.a.tenant_id.hex}_{secret}",
        f"Bearer shk_{hub.a.tenant_id.hex}_{secret.upper()}",
        f"Bearer shk_{hub.a.tenant_id.hex}_{secret}x",
        f"Bearer shk_{hub.b.tenant_id.hex}_{secret}",  # right secret, wrong tenant
        f"Bearer shd_{hub.a.tenant_id.hex}_{secret}",  # an API token presented as a device token
    ]
    for header in bad:
        response = await hub.client.get("/api/v1/auth/me", headers={"Authorization": header})
        assert response.status_code == 401, header
    for cookie in ("garbage", f"{hub.b.tenant_id.hex}.{hub.a.session_cookie.split('.')[1]}", "a.b"):
        hub.client.cookies.set(SESSION_COOKIE, cookie)
        assert (await hub.client.get("/api/v1/auth/me")).status_code == 401, cookie
    hub.client.cookies.clear()
    assert (await hub.client.get("/api/v1/auth/me")).status_code == 401


async def test_root_redirects_by_session(hub: Hub) -> None:
    anonymous = await hub.client.get("/", follow_redirects=False)
    assert anonymous.status_code in (302, 307)
    assert anonymous.headers["location"] == "/login/"
    hub.client.cookies.set(SESSION_COOKIE, hub.a.session_cookie)
    signed_in = await hub.client.get("/", follow_redirects=False)
    assert signed_in.headers["location"] == "/backoffice/"


async def test_login_upgrades_weak_password_hashes(hub_factory: HubFactory) -> None:
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    hub: Hub = await hub_factory(hasher=stronger)
    await hub.login(hub.a, Role.CASHIER)
    async with hub.db.tenant(hub.a.tenant_id) as session:
        row = await session.get(User, (hub.a.tenant_id, hub.a.cashier_id))
    assert row is not None
    assert not stronger.check_needs_rehash(row.password_hash)
    assert stronger.verify(row.password_hash, hub.a.password)
    hub.client.cookies.clear()
    await hub.login(hub.a, Role.CASHIER)  # the new hash verifies
