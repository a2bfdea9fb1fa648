"""The till's commands on the socket, routed to the register's RegisterActor.

Before anything reaches a register the gateway checks that it exists in the principal's tenant (another
tenant's register is simply not found), that a user may act on its store, and that a device is bound to
it. The answer is cached per socket, so a scan costs one ask of the register actor.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from actors.catalog_ref import CatalogRef
from actors.register import RegisterActor, TillCommand, register_address
from actors.runtime import ActorRef, Props
from actors.tenant import GetCatalog, RegisterInfo, RegisterPlace
from hub.gateway.builtin import ALL_KINDS
from hub.gateway.catalog import ask_tenant, tenant_ref
from hub.gateway.commands import command
from hub.gateway.connection import Connection
from schema.errors import PermissionDeniedError
from schema.messages.till import (
    AddItem,
    CashMovement,
    Checkout,
    ClearCart,
    CloseCashSession,
    DiscountLine,
    GetCart,
    OpenCashSession,
    RemoveLine,
    ReturnSale,
    ScaleReading,
    SearchProducts,
    SetQuantity,
)
from schema.models import Device
from schema.models.identity import Role


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

    async def catalog() -> CatalogRef:
        ref: CatalogRef = await tenant_ref(conn).ask(
            GetCatalog(), timeout=services.settings.ask_timeout_seconds
        )
        return ref

    tenant_id = principal.tenant_id
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


@command("cart.add", AddItem, role=Role.CASHIER)
async def add_item(conn: Connection, msg: AddItem, command_id: str | None) -> Any:
    return await ask_register(conn, msg.register_id, msg, command_id)


@command("cart.set_qty", SetQuantity, role=Role.CASHIER)
async def set_quantity(conn: Connection, msg: SetQuantity, command_id: str | None) -> Any:
    return await ask_register(conn, msg.register_id, msg, command_id)


@command("cart.remove", RemoveLine, role=Role.CASHIER)
async def remove_line(conn: Connection, msg: RemoveLine, command_id: str | None) -> Any:
    return await ask_register(conn, msg.register_id, msg, command_id)


@command("cart.discount", DiscountLine, role=Role.CASHIER)
async def discount_line(conn: Connection, msg: DiscountLine, command_id: str | None) -> Any:
    return await ask_register(conn, msg.register_id, msg, command_id)


@command("cart.clear", ClearCart, role=Role.CASHIER)
async def clear_cart(conn: Connection, msg: ClearCart, command_id: str | None) -> Any:
    return await ask_register(conn, msg.register_id, msg, command_id)


@command("cart.get", GetCart, role=Role.CASHIER)
async def get_cart(conn: Connection, msg: GetCart, command_id: str | None) -> Any:
    return await ask_register(conn, msg.register_id, msg, command_id)


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


@command("checkout", Checkout, role=Role.CASHIER)
async def checkout(conn: Connection, msg: Checkout, command_id: str | None) -> Any:
    return await ask_register(conn, msg.register_id, msg, command_id)


@command("cash.open", OpenCashSession, role=Role.CASHIER)
async def cash_open(conn: Connection, msg: OpenCashSession, command_id: str | None) -> Any:
    return await ask_register(conn, msg.register_id, msg, command_id)


@command("cash.move", CashMovement, role=Role.CASHIER)
async def cash_move(conn: Connection, msg: CashMovement, command_id: str | None) -> Any:
    return await ask_register(conn, msg.register_id, msg, command_id)


@command("cash.close", CloseCashSession, role=Role.CASHIER)
async def cash_close(conn: Connection, msg: CloseCashSession, command_id: str | None) -> Any:
    return await ask_register(conn, msg.register_id, msg, command_id)


@command("sale.return", ReturnSale, role=Role.CASHIER)
async def return_sale(conn: Connection, msg: ReturnSale, command_id: str | None) -> Any:
    return await ask_register(conn, msg.register_id, msg, command_id)
