"""Catalog commands on the socket, routed to the tenant's TenantActor."""

from __future__ import annotations

from typing import Any

from actors.runtime import Props
from actors.tenant import TenantActor, TenantCommand, tenant_address
from hub.gateway.commands import command
from hub.gateway.connection import Connection
from schema.messages.catalog import LookupProduct, SetPrice
from schema.models.identity import Role


async def ask_tenant(conn: Connection, payload: Any) -> Any:
    services = conn.services
    tenant_id = conn.principal.tenant_id
    ref = services.actors.ref(
        tenant_address(tenant_id),
        Props(lambda: TenantActor(tenant_id, services.actor_deps), kind="TenantActor"),
    )
    return await ref.ask(
        TenantCommand(payload, conn.principal.user_id), timeout=services.settings.ask_timeout_seconds
    )


@command("catalog.lookup", LookupProduct, role=Role.CASHIER)
async def lookup(conn: Connection, msg: LookupProduct, command_id: str | None) -> Any:
    return await ask_tenant(conn, msg)


@command("catalog.set_price", SetPrice, role=Role.MANAGER)
async def set_price(conn: Connection, msg: SetPrice, command_id: str | None) -> Any:
    return await ask_tenant(conn, msg)
