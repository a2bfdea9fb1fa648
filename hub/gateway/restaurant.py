"""Restaurant mode's commands on the socket: the floor, tabs, sending to the kitchen, paying.

Before anything reaches a store's FloorActor the gateway finds the store the command is about (the store
itself, the table's or the tab's, looked up in the principal's tenant: another tenant's is ``not_found``),
checks that the principal may act on that store (``forbidden``) and that the store is a restaurant
(``not_restaurant``). Cashiers, managers and owners only: kitchen users get ``forbidden`` from the registry.
The protocol is described in ``schema.messages.restaurant``.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from actors.floor import FloorCommand, floor_ref
from actors.floor_errors import NotRestaurantError
from actors.runtime import ActorRef
from hub.gateway.commands import command
from hub.gateway.connection import Connection
from schema.errors import NotFoundError
from schema.messages.restaurant import (
    AddToTab,
    CloseTab,
    FireCourse,
    GetFloor,
    GetTab,
    MergeTabs,
    MoveTab,
    OpenTab,
    PayTab,
    PrintPrebill,
    RemoveTabItem,
    SendTab,
    SetTabQuantity,
    VoidTabItem,
)
from schema.models import FloorTable, Store, Tab
from schema.models.identity import Role
from schema.wire import Message

if TYPE_CHECKING:
    from hub.services import Services


def floor_ref_for(services: Services, tenant_id: uuid.UUID, store_id: uuid.UUID) -> ActorRef:
    return floor_ref(
        services.actors, services.actor_deps, tenant_id, store_id, services.settings.ask_timeout_seconds
    )


async def restaurant_store(services: Services, conn: Connection, store_id: uuid.UUID) -> Store:
    """The store, if the principal may act on it and it is a restaurant."""
    principal = conn.principal
    async with services.db.tenant(principal.tenant_id) as session:
        store = await session.get(Store, (principal.tenant_id, store_id))
    if store is None:
        raise NotFoundError("store not found", store_id=str(store_id))
    principal.require_store(store.id)
    if store.mode != "restaurant":
        raise NotRestaurantError("this store is not a restaurant", store_id=str(store_id))
    return store


async def _store_of(conn: Connection, payload: Any) -> uuid.UUID:
    """The store a command is about: named, or the table's, or the tab's."""
    tenant_id = conn.principal.tenant_id
    if isinstance(payload, GetFloor):
        return payload.store_id
    async with conn.services.db.tenant(tenant_id) as session:
        if isinstance(payload, OpenTab):
            table = await session.get(FloorTable, (tenant_id, payload.table_id))
            if table is None:
                raise NotFoundError("table not found", table_id=str(payload.table_id))
            return table.store_id
        tab = await session.get(Tab, (tenant_id, payload.tab_id))
    if tab is None:
        raise NotFoundError("tab not found", tab_id=str(payload.tab_id))
    return tab.store_id


async def _forward(conn: Connection, msg: Any, command_id: str | None) -> Any:
    services = conn.services
    store_id = await _store_of(conn, msg)
    await restaurant_store(services, conn, store_id)
    ref = floor_ref_for(services, conn.principal.tenant_id, store_id)
    return await ref.ask(
        FloorCommand(msg, conn.principal, command_id), timeout=services.settings.ask_timeout_seconds
    )


RESTAURANT_COMMANDS: tuple[tuple[str, type[Message]], ...] = (
    ("floor.get", GetFloor),
    ("tab.open", OpenTab),
    ("tab.get", GetTab),
    ("tab.add", AddToTab),
    ("tab.set_qty", SetTabQuantity),
    ("tab.remove", RemoveTabItem),
    ("tab.void", VoidTabItem),
    ("tab.send", SendTab),
    ("tab.fire", FireCourse),
    ("tab.move", MoveTab),
    ("tab.merge", MergeTabs),
    ("tab.close", CloseTab),
    ("tab.pay", PayTab),
    ("tab.prebill", PrintPrebill),
)

for _type, _payload in RESTAURANT_COMMANDS:
    command(_type, _payload, role=Role.CASHIER)(_forward)
