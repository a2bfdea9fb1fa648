"""Catalog commands on the socket, routed to the tenant's TenantActor."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from actors.runtime import ActorRef, Props
from actors.tenant import TenantActor, TenantCommand, tenant_address
from hub.gateway.commands import command
from hub.gateway.connection import Connection
from schema.messages.catalog import LookupProduct, SetPrice
from schema.models.identity import Role

if TYPE_CHECKING:
    from hub.services import Services


def tenant_ref_for(services: Services, tenant_id: uuid.UUID) -> ActorRef:
    return services.actors.ref(
        tenant_address(tenant_id),
        Props(lambda: TenantActor(tenant_id, services.actor_deps), kind="TenantActor"),
    )


def tenant_ref(conn: Connection) -> ActorRef:
    return tenant_ref_for(conn.services, conn.principal.tenant_id)


async def ask_tenant(conn: Connection, payload: Any) -> Any:
    return await tenant_ref(conn).ask(
        TenantCommand(payload, conn.principal.user_id), timeout=conn.services.settings.ask_timeout_seconds
    )


@command("catalog.lookup", LookupProduct, role=Role.CASHIER)
async def lookup(conn: Connection, msg: LookupProduct, command_id: str | None) -> Any:
    return await ask_tenant(conn, msg)


@command("catalog.set_price", SetPrice, role=Role.MANAGER)
async def set_price(conn: Connection, msg: SetPrice, command_id: str | None) -> Any:
    return await ask_tenant(conn, msg)
