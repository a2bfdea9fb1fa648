"""The kitchen's commands on the socket: orders from the floor, and each station's screen (the KDS).

``kitchen.order`` (cashiers and up, on a store they may use) goes to ``actors.kitchen.dispatch_order``,
which routes it item by item and has each station's KitchenActor open its ticket (a restaurant tab's send
takes the same path). The stations' actors work independently, so an order is not atomic across stations;
it is idempotent instead: the client resends it with the same ``order_id`` until it gets an answer, and a
station that has its ticket already answers with it, so a resend completes a half-delivered order and never
cooks anything twice.

Station commands (kitchen staff, managers, owners) first check the station: another tenant's is
``not_found`` (the lookup runs in the principal's tenant), a station of a store the principal is not bound
to is ``forbidden``. The protocol is described in ``schema.messages.kitchen``.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from actors.kitchen import GetState, StationCommand, dispatch_order, kitchen_ref
from actors.kitchen_tickets import NoStationError
from actors.runtime import ActorRef
from hub.gateway.commands import command
from hub.gateway.connection import Connection
from schema.errors import NotFoundError
from schema.messages.kitchen import (
    BumpTicket,
    ExpoState,
    GetExpo,
    GetStation,
    ItemDone,
    KitchenOrder,
    KitchenTicketView,
    OrderRouted,
    RecallTicket,
    StationState,
)
from schema.models import KitchenStation, Store
from schema.models.identity import Role

if TYPE_CHECKING:
    from hub.services import Services


def station_ref_for(services: Services, tenant_id: uuid.UUID, station_id: uuid.UUID) -> ActorRef:
    return kitchen_ref(services.actors, services.actor_deps, tenant_id, station_id)


async def _store(conn: Connection, store_id: uuid.UUID) -> None:
    principal = conn.principal
    async with conn.services.db.tenant(principal.tenant_id) as session:
        store = await session.get(Store, (principal.tenant_id, store_id))
    if store is None:
        raise NotFoundError("store not found", store_id=str(store_id))
    principal.require_store(store.id)


async def station_ref(conn: Connection, station_id: uuid.UUID) -> ActorRef:
    """The station's actor, once the principal is found allowed on the station's store."""
    principal = conn.principal
    async with conn.services.db.tenant(principal.tenant_id) as session:
        station = await session.get(KitchenStation, (principal.tenant_id, station_id))
    if station is None:
        raise NotFoundError("kitchen station not found", station_id=str(station_id))
    principal.require_store(station.store_id)
    return station_ref_for(conn.services, principal.tenant_id, station_id)


async def _ask(ref: ActorRef, conn: Connection, message: object) -> Any:
    return await ref.ask(message, timeout=conn.services.settings.ask_timeout_seconds)


@command("kitchen.order", KitchenOrder, role=Role.CASHIER)
async def order(conn: Connection, msg: KitchenOrder, command_id: str | None) -> OrderRouted:
    # The store is looked up only to refuse: routing reads the store's stations in the principal's tenant
    # anyway, so an order for a store the principal may use costs no extra transaction.
    if not conn.principal.can_access_store(msg.store_id):
        await _store(conn, msg.store_id)  # not_found (another tenant's, or none) or forbidden
    services = conn.services
    try:
        return await dispatch_order(
            services.actors,
            services.actor_deps,
            conn.principal.tenant_id,
            msg,
            services.settings.ask_timeout_seconds,
        )
    except NoStationError:
        await _store(conn, msg.store_id)  # no station because there is no such store: not_found
        raise


async def _station_command(
    conn: Connection, msg: BumpTicket | RecallTicket | ItemDone, command_id: str | None
) -> KitchenTicketView:
    ref = await station_ref(conn, msg.station_id)
    principal = conn.principal
    sender = str(principal.user_id or principal.device_id)
    answer: KitchenTicketView = await _ask(ref, conn, StationCommand(msg, sender, command_id))
    return answer


@command("kitchen.bump", BumpTicket, role=Role.KITCHEN)
async def bump(conn: Connection, msg: BumpTicket, command_id: str | None) -> KitchenTicketView:
    return await _station_command(conn, msg, command_id)


@command("kitchen.recall", RecallTicket, role=Role.KITCHEN)
async def recall(conn: Connection, msg: RecallTicket, command_id: str | None) -> KitchenTicketView:
    return await _station_command(conn, msg, command_id)


@command("kitchen.item_done", ItemDone, role=Role.KITCHEN)
async def item_done(conn: Connection, msg: ItemDone, command_id: str | None) -> KitchenTicketView:
    return await _station_command(conn, msg, command_id)


@command("kitchen.get", GetStation, role=Role.KITCHEN)
async def get_station(conn: Connection, msg: GetStation, command_id: str | None) -> StationState:
    state: StationState = await _ask(await station_ref(conn, msg.station_id), conn, GetState())
    return state


@command("kitchen.expo", GetExpo, role=Role.KITCHEN)
async def expo(conn: Connection, msg: GetExpo, command_id: str | None) -> ExpoState:
    await _store(conn, msg.store_id)
    tenant_id = conn.principal.tenant_id
    async with conn.services.db.tenant(tenant_id) as session:
        stations = (
            await session.execute(
                select(KitchenStation.id)
                .where(KitchenStation.store_id == msg.store_id)
                .order_by(KitchenStation.code, KitchenStation.id)
            )
        ).scalars()
        refs = [station_ref_for(conn.services, tenant_id, station_id) for station_id in stations]
    states: list[StationState] = await asyncio.gather(*(_ask(ref, conn, GetState()) for ref in refs))
    return ExpoState(store_id=msg.store_id, stations=states)
