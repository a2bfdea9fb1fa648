"""The till's commands on the socket, routed to the register's RegisterActor.

Before anything reaches a register the gateway checks that it exists in the principal's tenant (another
tenant's register is simply not found), that a user may act on its store, and that a device is bound to
it. The answer is cached per socket, so a scan costs one ask of the register actor.

``sale.lookup`` is a read: after the same register check it queries the database directly
(``actors.sale_lookup``), confined to the tenant and to the register's store, without asking the register.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from actors.catalog_ref import CatalogRef
from actors.register import RegisterActor, TillCommand, register_address
from actors.runtime import ActorRef, Props
from actors.sale_lookup import returnable_sale
from actors.tenant import GetCatalog, RegisterInfo, RegisterPlace
from hub.gateway.builtin import ALL_KINDS
from hub.gateway.catalog import ask_tenant, tenant_ref, tenant_ref_for
from hub.gateway.commands import command
from hub.gateway.connection import Connection
from schema.errors import PermissionDeniedError, ValidationError
from schema.messages.till import (
    AddItem,
    CashMovement,
    Checkout,
    ClearCart,
    CloseCashSession,
    DiscountLine,
    GetCart,
    LookupSale,
    OpenCashSession,
    RemoveLine,
    ReturnableSale,
    ReturnSale,
    ScaleReading,
    SearchProducts,
    SetQuantity,
)
from schema.models import Device
from schema.models.identity import Role
from schema.wire import Message

if TYPE_CHECKING:
    from hub.services import Services


async def register_ref(conn: Connection, register_id: uuid.UUID) -> ActorRef:
    principal, services = conn.principal, conn.services
    if register_id not in conn.registers:
        timeout = services.settings.ask_timeout_seconds
        tenant = tenant_ref(conn)
        place: RegisterPlace = await tenant.ask(RegisterInfo(register_id), timeout=timeout)
        if principal.kind == "device":
            async with services.db.tenant(principal.tenant_id) as session:
                device = await session.get(Device, (principal.tenant_id, principal.device_id))
            if device is None or device.register_id != register_id:
                raise PermissionDeniedError("this device is not bound to that register")
        else:
            principal.require_store(place.store_id)
        conn.registers.add(register_id)
    return register_ref_for(services, principal.tenant_id, register_id)


def register_ref_for(services: Services, tenant_id: uuid.UUID, register_id: uuid.UUID) -> ActorRef:
    """The register's actor, started if needed. The caller has checked the register is the tenant's."""

    async def catalog() -> CatalogRef:
        ref: CatalogRef = await tenant_ref_for(services, tenant_id).ask(
            GetCatalog(), timeout=services.settings.ask_timeout_seconds
        )
        return ref

    return services.actors.ref(
        register_address(tenant_id, register_id),
        Props(
            lambda: RegisterActor(tenant_id, register_id, services.actor_deps, catalog),
            kind="RegisterActor",
            idle_after=None,  # an idle till keeps its cart
        ),
    )


async def ask_register(conn: Connection, register_id: uuid.UUID, payload: Any, command_id: str | None) -> Any:
    ref = await register_ref(conn, register_id)
    return await ref.ask(
        TillCommand(payload, conn.principal, command_id), timeout=conn.services.settings.ask_timeout_seconds
    )


# Commands the register itself answers: the gateway only checks the register and forwards.
REGISTER_COMMANDS: tuple[tuple[str, type[Message]], ...] = (
    ("cart.add", AddItem),
    ("cart.set_qty", SetQuantity),
    ("cart.remove", RemoveLine),
    ("cart.discount", DiscountLine),
    ("cart.clear", ClearCart),
    ("cart.get", GetCart),
    ("checkout", Checkout),
    ("sale.return", ReturnSale),
    ("cash.open", OpenCashSession),
    ("cash.move", CashMovement),
    ("cash.close", CloseCashSession),
)


async def _forward(conn: Connection, msg: Any, command_id: str | None) -> Any:
    return await ask_register(conn, msg.register_id, msg, command_id)


for _type, _payload in REGISTER_COMMANDS:
    command(_type, _payload, role=Role.CASHIER)(_forward)


@command("scale.reading", ScaleReading, kinds=ALL_KINDS)
async def scale_reading(conn: Connection, msg: ScaleReading, command_id: str | None) -> Any:
    if conn.principal.kind == "user":
        conn.principal.require(Role.CASHIER)
    stamped = ScaleReading(
        register_id=msg.register_id, grams=msg.grams, stable=msg.stable, at_ms=int(time.time() * 1000)
    )
    return await ask_register(conn, msg.register_id, stamped, None)


@command("catalog.search", SearchProducts, role=Role.CASHIER)
async def search(conn: Connection, msg: SearchProducts, command_id: str | None) -> Any:
    return await ask_tenant(conn, msg)


@command("sale.lookup", LookupSale, role=Role.CASHIER)
async def lookup_sale(conn: Connection, msg: LookupSale, command_id: str | None) -> ReturnableSale:
    if (msg.number is None) == (msg.sale_id is None):
        raise ValidationError("give either the sale's number or its sale_id")
    principal, services = conn.principal, conn.services
    place: RegisterPlace = await tenant_ref(conn).ask(
        RegisterInfo(msg.register_id), timeout=services.settings.ask_timeout_seconds
    )
    principal.require_store(place.store_id)
    return await returnable_sale(
        services.db, principal.tenant_id, place.store_id, number=msg.number, sale_id=msg.sale_id
    )
