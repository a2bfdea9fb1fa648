"""``/api/v1/settings``: managers read the selling settings, owners change them, bad values change nothing,
and a tenant only ever sees and changes its own (SQLite and Postgres, where RLS confines the UPDATE)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from actors.sales.scale_barcodes import DEFAULT_RULES
from schema.messages.catalog import CATALOG_STREAM
from schema.models import OutboxEvent, Role, Tenant
from schema.models.tenancy import DEFAULT_MAX_CASHIER_DISCOUNT, DEFAULT_SCALE_PREFIXES
from tests.hub.conftest import Hub, HubFactory
from tests.support.tenants import TenantFixture

SETTINGS = "/api/v1/settings"
DEFAULTS = {
    "stock_policy": "allow",
    "scale_prefixes": {"20": "weight", "21": "weight", "22": "price", "23": "price"},
    "max_cashier_discount": 10,
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_url(request: pytest.FixtureRequest) -> str | None:
    # Synchronous on purpose: pg_url sets up its server with asyncio.run(), outside any running loop.
    return None if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def both_hub(backend_url: str | None, hub_factory: HubFactory) -> Hub:
    hub: Hub = await hub_factory(database_url=backend_url)
    return hub


async def settings_of(hub: Hub, tenant: TenantFixture) -> dict[str, Any]:
    response = await hub.client.get(SETTINGS, headers=hub.owner(tenant))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def announced(hub: Hub, tenant: TenantFixture) -> list[dict[str, Any]]:
    """Payloads of the TenantSettingsChanged events written to the tenant's outbox."""
    async with hub.db.tenant(tenant.tenant_id) as session:
        rows = (
            await session.execute(
                select(OutboxEvent)
                .where(OutboxEvent.event == "TenantSettingsChanged")
                .order_by(OutboxEvent.created_at, OutboxEvent.id)
            )
        ).scalars()
        return [{"stream": row.stream, **row.payload} for row in rows]


async def tenant_row(hub: Hub, tenant: TenantFixture) -> tuple[Any, ...]:
    async with hub.db.tenant(tenant.tenant_id) as session:
        table = Tenant.__table__
        row = (await session.execute(select(table).where(table.c.id == tenant.tenant_id))).one()
    return tuple(row)


def test_the_column_defaults_are_the_scale_rules_defaults() -> None:
    assert dict(DEFAULT_RULES.prefixes) == DEFAULT_SCALE_PREFIXES == DEFAULTS["scale_prefixes"]
    assert DEFAULTS["max_cashier_discount"] == DEFAULT_MAX_CASHIER_DISCOUNT


async def test_new_tenants_start_with_the_defaults(hub: Hub) -> None:
    assert await settings_of(hub, hub.a) == DEFAULTS


async def test_managers_read_owners_write_others_are_forbidden(hub: Hub) -> None:
    change = {"stock_policy": "block"}
    for role in (Role.KITCHEN, Role.CASHIER):
        headers = await hub.auth(hub.a, role)
        for method, body in (("GET", None), ("PATCH", change)):
            response = await hub.client.request(method, SETTINGS, json=body, headers=headers)
            assert response.status_code == 403, (role, method, response.text)
            assert response.json()["code"] == "forbidden"
    manager = await hub.auth(hub.a, Role.MANAGER)
    read = await hub.client.get(SETTINGS, headers=manager)
    assert read.status_code == 200 and read.json() == DEFAULTS
    refused = await hub.client.patch(SETTINGS, json=change, headers=manager)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert refused.json()["required"] == "owner"
    assert await settings_of(hub, hub.a) == DEFAULTS
    assert await announced(hub, hub.a) == []

    response = await hub.client.patch(SETTINGS, json=change, headers=await hub.auth(hub.a, Role.OWNER))
    assert response.status_code == 200, response.text
    assert response.json() == DEFAULTS | change
    assert (await hub.client.get(SETTINGS, headers=manager)).json() == DEFAULTS | change


async def test_an_owner_changes_any_subset_and_each_change_is_announced(both_hub: Hub) -> None:
    hub = both_hub
    owner = hub.owner(hub.a)
    new_prefixes = {"29": "price", "20": "weight", "25": "weight"}
    response = await hub.client.patch(
        SETTINGS, json={"scale_prefixes": new_prefixes, "max_cashier_discount": 5}, headers=owner
    )
    assert response.status_code == 200, response.text
    expected = {
        "stock_policy": "allow",
        "scale_prefixes": {"20": "weight", "25": "weight", "29": "price"},  # sorted, replaced whole
        "max_cashier_discount": 5,
    }
    assert response.json() == expected
    assert await settings_of(hub, hub.a) == expected
    response = await hub.client.patch(SETTINGS, json={"stock_policy": "block"}, headers=owner)
    assert response.json() == expected | {"stock_policy": "block"}
    response = await hub.client.patch(SETTINGS, json={"scale_prefixes": {}}, headers=owner)  # no scale labels
    assert response.json()["scale_prefixes"] == {}
    for limit in (0, 100):
        response = await hub.client.patch(SETTINGS, json={"max_cashier_discount": limit}, headers=owner)
        assert response.json()["max_cashier_discount"] == limit
    events = await announced(hub, hub.a)
    assert [e["stream"] for e in events] == [CATALOG_STREAM] * 5
    assert events[0] == {
        "stream": CATALOG_STREAM,
        "stock_policy": "allow",
        "scale_prefixes": {"20": "weight", "25": "weight", "29": "price"},
        "max_cashier_discount": 5,
        "by_user": str(hub.a.owner_id),
    }
    assert events[-1]["stock_policy"] == "block" and events[-1]["max_cashier_discount"] == 100


@pytest.mark.parametrize(  # needle: what the problem must say (" | " separates parts)
    ("body", "code", "needle"),
    [
        ({"scale_prefixes": {"19": "weight"}}, "invalid_scale_rules", "'19' is not a store prefix (20..29)"),
        ({"scale_prefixes": {"30": "price"}}, "invalid_scale_rules", "'30' is not a store prefix (20..29)"),
        ({"scale_prefixes": {"2a": "weight"}}, "invalid_scale_rules", "'2a' is not a store prefix (20..29)"),
        ({"scale_prefixes": {"20": "weight", "2": "price"}}, "invalid_scale_rules", "'2' is not a store"),
        (
            {"scale_prefixes": {"20": "weight", "25": "volume"}},
            "invalid_scale_rules",
            "prefix 25 has kind 'volume'; expected 'weight' or 'price'",
        ),
        ({"scale_prefixes": {"20": 1}}, "invalid", "scale_prefixes"),
        ({"scale_prefixes": ["20"]}, "invalid", "scale_prefixes"),
        ({"scale_prefixes": {str(p): "weight" for p in range(10, 30)}}, "invalid", "scale_prefixes"),
        ({"max_cashier_discount": 101}, "invalid", "Expected `int` <= 100 | max_cashier_discount"),
        ({"max_cashier_discount": -1}, "invalid", "Expected `int` >= 0 | max_cashier_discount"),
        ({"max_cashier_discount": 7.5}, "invalid", "max_cashier_discount"),
        ({"stock_policy": "maybe"}, "invalid", "stock_policy"),
        ({"stock_policy": "block", "colour": "red"}, "invalid", "colour"),
        ({}, "invalid", "nothing to change"),
        # one bad field refuses the whole change
        ({"stock_policy": "block", "max_cashier_discount": 101}, "invalid", "max_cashier_discount"),
        ({"stock_policy": "block", "scale_prefixes": {"31": "weight"}}, "invalid_scale_rules", "'31'"),
    ],
)
async def test_bad_settings_are_refused_clearly_and_change_nothing(
    hub: Hub, body: dict[str, Any], code: str, needle: str
) -> None:
    before = await tenant_row(hub, hub.a)
    response = await hub.client.patch(SETTINGS, json=body, headers=hub.owner(hub.a))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == code, problem
    for part in needle.split(" | "):
        assert part in response.text, problem
    assert await tenant_row(hub, hub.a) == before
    assert await settings_of(hub, hub.a) == DEFAULTS
    assert await announced(hub, hub.a) == []


async def test_a_tenant_never_sees_or_changes_another_tenants_settings(both_hub: Hub) -> None:
    hub = both_hub
    a, b = hub.a, hub.b
    b_before = await tenant_row(hub, b)
    response = await hub.client.patch(
        SETTINGS,
        json={"stock_policy": "block", "scale_prefixes": {"27": "price"}, "max_cashier_discount": 3},
        headers=hub.owner(a),
    )
    assert response.status_code == 200, response.text
    assert await tenant_row(hub, b) == b_before
    assert await settings_of(hub, b) == DEFAULTS
    assert await announced(hub, b) == []
    # B's owner changes B's: A keeps its own.
    response = await hub.client.patch(SETTINGS, json={"max_cashier_discount": 20}, headers=hub.owner(b))
    assert response.json() == DEFAULTS | {"max_cashier_discount": 20}
    assert await settings_of(hub, a) == {
        "stock_policy": "block",
        "scale_prefixes": {"27": "price"},
        "max_cashier_discount": 3,
    }
    # Through a browser session too (cookie + CSRF), a tenant reaches its own row only.
    hub.client.cookies.set("storehub_session", b.session_cookie)
    response = await hub.client.patch(
        SETTINGS, json={"stock_policy": "block"}, headers={"X-CSRF-Token": b.csrf_token}
    )
    hub.client.cookies.clear()
    assert response.status_code == 200, response.text
    assert response.json()["max_cashier_discount"] == 20
    assert (await settings_of(hub, a))["max_cashier_discount"] == 3
