"""Users, API tokens and devices (with pairing)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from hub.auth.tokens import digest
from schema.models import ApiToken, AuthSession, Device, Role, User
from tests.hub.conftest import Hub

USERS = "/api/v1/users"


def user(**overrides: Any) -> dict[str, Any]:
    return {
        "username": "maria.p",
        "display_name": "María Pérez",
        "role": "cashier",
        "password": "s3cret-pass",
    } | (overrides)


async def test_user_crud_never_shows_hashes(hub: Hub) -> None:
    owner = hub.owner(hub.a)
    created = await hub.client.post(USERS, json=user(store_id=str(hub.a.store_id), pin="1234"), headers=owner)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["role"] == "cashier" and body["store_id"] == str(hub.a.store_id) and body["has_pin"] is True
    listed = await hub.client.get(USERS, headers=owner)
    assert len(listed.json()) == 5
    for text in (
        created.text,
        listed.text,
        (await hub.client.get(f"{USERS}/{body['id']}", headers=owner)).text,
    ):
        assert "hash" not in text and "argon2" not in text and "s3cret" not in text

    signed_in = await hub.client.post(
        "/api/v1/auth/login", json={"tenant": hub.a.slug, "username": "maria.p", "password": "s3cret-pass"}
    )
    assert signed_in.status_code == 200
    hub.client.cookies.clear()

    dup = await hub.client.post(USERS, json=user(), headers=owner)
    assert dup.status_code == 409
    for bad in (user(username="María"), user(password="short"), user(role="admin"), user(pin="12")):
        assert (await hub.client.post(USERS, json=bad, headers=owner)).status_code == 400, bad

    patched = await hub.client.patch(
        f"{USERS}/{body['id']}", json={"role": "manager", "store_id": None, "pin": None}, headers=owner
    )
    assert patched.status_code == 200
    assert patched.json()["role"] == "manager" and patched.json()["store_id"] is None
    assert patched.json()["has_pin"] is False

    new_password = await hub.client.patch(
        f"{USERS}/{body['id']}", json={"password": "another-pass"}, headers=owner
    )
    assert new_password.status_code == 200
    old = await hub.client.post(
        "/api/v1/auth/login", json={"tenant": hub.a.slug, "username": "maria.p", "password": "s3cret-pass"}
    )
    assert old.status_code == 401

    deleted = await hub.client.delete(f"{USERS}/{body['id']}", headers=owner)
    assert deleted.status_code == 204
    after = await hub.client.get(f"{USERS}/{body['id']}", headers=owner)
    assert after.json()["active"] is False
    gone = await hub.client.post(
        "/api/v1/auth/login", json={"tenant": hub.a.slug, "username": "maria.p", "password": "another-pass"}
    )
    assert gone.status_code == 401


async def test_deactivating_a_user_ends_sessions_and_tokens(hub: Hub) -> None:
    manager_id = hub.a.users[Role.MANAGER]
    csrf = await hub.login(hub.a, Role.MANAGER)
    assert csrf
    async with hub.db.tenant(hub.a.tenant_id) as session:
        session.add(ApiToken(id=digest("m" * 64), user_id=manager_id, name="integration"))
    response = await hub.client.delete(f"{USERS}/{manager_id}", headers=hub.owner(hub.a))
    assert response.status_code == 204
    async with hub.db.tenant(hub.a.tenant_id) as session:
        sessions = (await session.execute(select(AuthSession).where(AuthSession.user_id == manager_id))).all()
        token = await session.get(ApiToken, (hub.a.tenant_id, digest("m" * 64)))
    assert sessions == []
    assert token is not None and token.revoked_at is not None
    assert (await hub.client.get("/api/v1/auth/me")).status_code == 401


async def test_owner_cannot_lock_themselves_out(hub: Hub) -> None:
    owner = hub.owner(hub.a)
    me = hub.a.owner_id
    assert (await hub.client.delete(f"{USERS}/{me}", headers=owner)).status_code == 409
    assert (
        await hub.client.patch(f"{USERS}/{me}", json={"role": "manager"}, headers=owner)
    ).status_code == 409
    assert (await hub.client.patch(f"{USERS}/{me}", json={"active": False}, headers=owner)).status_code == 409
    fine = await hub.client.patch(f"{USERS}/{me}", json={"display_name": "La Dueña"}, headers=owner)
    assert fine.status_code == 200 and fine.json()["display_name"] == "La Dueña"


async def test_api_tokens(hub: Hub) -> None:
    owner = hub.owner(hub.a)
    created = await hub.client.post(
        "/api/v1/api-tokens",
        json={"name": "contabilidad", "user_id": str(hub.a.users[Role.MANAGER])},
        headers=owner,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    token = body["token"]
    assert re.fullmatch(rf"shk_{hub.a.tenant_id.hex}_[0-9a-f]{{64}}", token)
    assert body["id"] == digest(token.rsplit("_", 1)[1])
    headers = {"Authorization": f"Bearer {token}"}
    me = await hub.client.get("/api/v1/auth/me", headers=headers)
    assert me.json()["user"]["username"] == "manager"

    listed = await hub.client.get("/api/v1/api-tokens", headers=owner)
    assert {t["name"] for t in listed.json()} == {"tests", "contabilidad"}
    assert "token" not in listed.text.replace('"tests"', "")  # the secret is never listed
    assert token not in listed.text

    revoked = await hub.client.post(f"/api/v1/api-tokens/{body['id']}/revoke", headers=owner)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert (await hub.client.get("/api/v1/auth/me", headers=headers)).status_code == 401
    listed = await hub.client.get("/api/v1/api-tokens", headers=owner)
    assert {t["name"] for t in listed.json()} == {"tests"}
    everything = await hub.client.get("/api/v1/api-tokens", params={"include_revoked": "true"}, headers=owner)
    assert len(everything.json()) == 2
    assert (await hub.client.post("/api/v1/api-tokens/not-a-hash/revoke", headers=owner)).status_code == 404
    assert (await hub.client.post(f"/api/v1/api-tokens/{'0' * 64}/revoke", headers=owner)).status_code == 404


async def test_device_pairing(hub: Hub) -> None:
    manager = await hub.auth(hub.a, Role.MANAGER)
    created = await hub.client.post(
        "/api/v1/devices",
        json={"store_id": str(hub.a.store_id), "register_id": str(hub.a.register_id), "kind": "scale",
              "name": "Balanza caja 1", "config": {"protocol": "toledo"}},
        headers=manager,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    body = created.json()
    code = body["pairing_code"]
    assert re.fullmatch(r"[A-Z2-9]{10}", code)
    assert body["device"]["status"] == "pairing"
    device_id = body["device"]["id"]
    async with hub.db.tenant(hub.a.tenant_id) as session:
        row = (
            await session.execute(select(Device).where(Device.pairing_code_hash == digest(code)))
        ).scalar_one()
    assert str(row.id) == device_id  # only the hash is stored

    wrong_tenant = await hub.client.post("/api/v1/devices/pair", json={"tenant": hub.b.slug, "code": code})
    assert wrong_tenant.status_code == 401
    typed = f"{code[:5].lower()}-{code[5:]}"  # how a person types it
    paired = await hub.client.post("/api/v1/devices/pair", json={"tenant": hub.a.slug, "code": typed})
    assert paired.status_code == 200, paired.text
    token = paired.json()["token"]
    assert re.fullmatch(rf"shd_{hub.a.tenant_id.hex}_[0-9a-f]{{64}}", token)
    assert paired.json()["device_id"] == device_id and paired.json()["register_id"] == str(hub.a.register_id)
    again = await hub.client.post("/api/v1/devices/pair", json={"tenant": hub.a.slug, "code": code})
    assert again.status_code == 401  # one time only
    me = await hub.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["device"]["id"] == device_id

    shown = await hub.client.get(f"/api/v1/devices/{device_id}", headers=manager)
    assert shown.json()["status"] == "paired" and shown.json()["config"] == {"protocol": "toledo"}
    revoked = await hub.client.post(f"/api/v1/devices/{device_id}/revoke", headers=manager)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert (
        await hub.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 401
    listed = await hub.client.get("/api/v1/devices", headers=manager)
    assert {d["id"] for d in listed.json()} == {device_id, str(hub.a.device_id)}


async def test_expired_pairing_code(hub: Hub) -> None:
    manager = await hub.auth(hub.a, Role.MANAGER)
    created = await hub.client.post(
        "/api/v1/devices", json={"store_id": str(hub.a.store_id), "kind": "printer", "name": "Cocina"},
        headers=manager,
    )  # fmt: skip
    code = created.json()["pairing_code"]
    async with hub.db.tenant(hub.a.tenant_id) as session:
        await session.execute(
            update(Device)
            .where(Device.pairing_code_hash == digest(code))
            .values(pairing_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = await hub.client.post("/api/v1/devices/pair", json={"tenant": hub.a.slug, "code": code})
    assert expired.status_code == 401
    assert expired.json()["code"] == "unauthenticated"
    shown = await hub.client.get(f"/api/v1/devices/{created.json()['device']['id']}", headers=manager)
    assert shown.json()["status"] == "unpaired"


async def test_device_validation(hub: Hub) -> None:
    manager = await hub.auth(hub.a, Role.MANAGER)
    base = {"store_id": str(hub.a.store_id), "kind": "scale", "name": "B"}
    assert (
        await hub.client.post("/api/v1/devices", json=base | {"kind": "toaster"}, headers=manager)
    ).status_code == 400
    foreign_register = base | {"register_id": str(hub.b.register_id)}
    assert (
        await hub.client.post("/api/v1/devices", json=foreign_register, headers=manager)
    ).status_code == 404
    async with hub.db.tenant(hub.a.tenant_id) as session:
        users = (await session.execute(select(User))).scalars().all()
    assert len(users) >= 5
