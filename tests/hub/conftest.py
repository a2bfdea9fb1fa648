"""The HTTP app over a migrated database with two tenants (``make_tenant``), driven in-process.

Requests go through ``httpx.ASGITransport``, which runs the app in the test's own event loop. Litestar's
``AsyncTestClient`` runs it in a portal thread with another loop, and asyncpg connections (the Postgres
runs) must stay on the loop that opened them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from litestar import Litestar

from hub.app import create_app
from hub.auth.passwords import Passwords
from hub.auth.ratelimit import MemoryRateLimiter
from hub.auth.tokens import bearer_token, digest, new_secret
from hub.db import Database
from hub.services import Services
from hub.settings import Settings, load_settings
from schema.models import ApiToken, Role, User
from tests.support.tenants import TenantFixture, make_tenant

SECRET = "test-secret-key-" + "x" * 32
BASE_URL = "http://hub.test"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Test hubs run the fiscal pipeline in their own loop, so a test's documents are processed without a
    second process per hub; ``tests/hub/test_fiscal_process.py`` runs it in the child process."""
    overrides.setdefault("fiscal_runner", "hub")
    return load_settings(env={}, database_url=database_url, secret_key=SECRET, **overrides)


@dataclass
class Hub:
    services: Services
    client: httpx.AsyncClient
    db: Database
    a: TenantFixture
    b: TenantFixture
    clock: FakeClock

    async def token(self, tenant: TenantFixture, role: Role, *, store_id: uuid.UUID | None = None) -> str:
        """A fresh API token of a new user with ``role`` (bound to ``store_id`` when given)."""
        secret = new_secret()
        async with self.db.tenant(tenant.tenant_id) as session:
            user = User(
                username=f"{role.value}-{secret[:8]}",
                display_name=role.value,
                role=role.value,
                store_id=store_id,
                password_hash="unused",
            )
            session.add(user)
            await session.flush()
            session.add(ApiToken(id=digest(secret), user_id=user.id, name="test"))
        return bearer_token("shk", tenant.tenant_id, secret)

    async def auth(self, tenant: TenantFixture, role: Role, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(tenant, role, **kwargs)}"}

    def owner(self, tenant: TenantFixture) -> dict[str, str]:
        return {"Authorization": f"Bearer {tenant.api_token}"}

    async def login(self, tenant: TenantFixture, role: Role = Role.OWNER) -> str:
        """Sign in through the API (cookie lands in the client's jar); returns the CSRF token."""
        response = await self.client.post(
            "/api/v1/auth/login",
            json={"tenant": tenant.slug, "username": tenant.usernames[role], "password": tenant.password},
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["csrf_token"]
        return token


HubFactory = Callable[..., Any]


def http_client(app: Litestar, base_url: str = BASE_URL) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 50000))
    return httpx.AsyncClient(transport=transport, base_url=base_url)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def hub_factory(sqlite_url: str, clock: FakeClock) -> AsyncIterator[HubFactory]:
    """Build hubs with settings overrides (``public_url``, ``login_attempts_per_minute``...)."""
    started: list[tuple[Services, httpx.AsyncClient]] = []

    async def build(
        database_url: str | None = None,
        base_url: str = BASE_URL,
        hasher: PasswordHasher = FAST_HASHER,
        **overrides: Any,
    ) -> Hub:
        settings = make_settings(database_url or sqlite_url, **overrides)
        limiter = MemoryRateLimiter(settings.login_attempts_per_minute, clock=clock)
        services = Services(settings, rate_limiter=limiter, passwords=Passwords(hasher))
        await services.start()
        a = await make_tenant(services.db)
        b = await make_tenant(services.db)
        client = http_client(create_app(services=services), base_url)
        started.append((services, client))
        return Hub(services=services, client=client, db=services.db, a=a, b=b, clock=clock)

    yield build
    for services, client in reversed(started):
        await client.aclose()
        await services.stop()


@pytest.fixture
async def hub(hub_factory: HubFactory) -> Hub:
    result: Hub = await hub_factory()
    return result
