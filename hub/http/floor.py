"""A restaurant store's floor plan (managers and owners).

* ``GET /stores/{store_id}/floor``: the plan, inactive tables included (``active: false``), the suggested tip
  percent and the floor's ``rev``. ``PATCH`` changes ``tip_percent`` (0..100, default 10).
* ``POST /stores/{store_id}/floor/areas``, ``PATCH`` / ``DELETE .../areas/{area_id}``: an area with tables
  cannot be deleted (409: move or delete them first).
* ``POST /stores/{store_id}/floor/tables``, ``PATCH`` / ``DELETE .../tables/{table_id}``: names are unique
  among a store's active tables (409), positions ``x``/``y`` are percent of the area's plan. A table with an
  open tab cannot be deleted (409 ``table_busy``); one with tab history is deactivated instead of deleted (its
  tabs keep naming it), which frees its name.

A store that is not a restaurant answers 409 ``not_restaurant``; another tenant's store, area or table is
404, a store the principal is not bound to 403. Every change is one transaction that takes the store's next
floor ``rev`` and writes ``FloorChanged`` (payload ``FloorState``) on ``floor:<store_id>``. The products'
modifiers are in ``hub.http.modifiers``.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from actors.floor_errors import NotRestaurantError, TableBusyError
from actors.floor_views import floor_settings, next_rev, read_floor
from hub.auth.principal import Principal
from hub.events.outbox import emit
from hub.http.common import (
    In,
    Out,
    PrincipalDep,
    ServicesDep,
    flush_or_conflict,
    get_or_404,
    require_some,
    store_for,
    tenant_session,
)
from schema.errors import ConflictError, NotFoundError
from schema.messages.restaurant import FLOOR_EVENT, TableShape, floor_stream
from schema.models import FloorArea, FloorTable, Role, Store, Tab

AreaName = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
TableName = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
Position = Annotated[int, msgspec.Meta(ge=0, le=10_000)]
Percent = Annotated[int, msgspec.Meta(ge=0, le=100)]
Seats = Annotated[int, msgspec.Meta(ge=1, le=99)]


class TableOut(Out, frozen=True):
    id: uuid.UUID
    area_id: uuid.UUID
    name: str
    seats: int
    x: int
    y: int
    shape: str
    active: bool


class AreaOut(Out, frozen=True):
    id: uuid.UUID
    name: str
    position: int
    tables: list[TableOut] = []


class FloorPlanOut(Out, frozen=True):
    store_id: uuid.UUID
    tip_percent: int
    rev: int
    areas: list[AreaOut]


class FloorPatch(In, frozen=True):
    tip_percent: Percent | msgspec.UnsetType = msgspec.UNSET


class AreaIn(In, frozen=True):
    name: AreaName
    position: Position = 0


class AreaPatch(In, frozen=True):
    name: AreaName | msgspec.UnsetType = msgspec.UNSET
    position: Position | msgspec.UnsetType = msgspec.UNSET


class TableIn(In, frozen=True):
    area_id: uuid.UUID
    name: TableName
    seats: Seats = 4
    x: Percent = 0
    y: Percent = 0
    shape: TableShape = "square"


class TablePatch(In, frozen=True):
    area_id: uuid.UUID | msgspec.UnsetType = msgspec.UNSET
    name: TableName | msgspec.UnsetType = msgspec.UNSET
    seats: Seats | msgspec.UnsetType = msgspec.UNSET
    x: Percent | msgspec.UnsetType = msgspec.UNSET
    y: Percent | msgspec.UnsetType = msgspec.UNSET
    shape: TableShape | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET


def table_out(t: FloorTable) -> TableOut:
    return TableOut(id=t.id, area_id=t.area_id, name=t.name, seats=t.seats, x=t.x, y=t.y, shape=t.shape,
                    active=t.active)  # fmt: skip


def area_out(area: FloorArea, tables: list[FloorTable]) -> AreaOut:
    mine = sorted((t for t in tables if t.area_id == area.id), key=lambda t: (t.name, str(t.id)))
    return AreaOut(id=area.id, name=area.name, position=area.position, tables=[table_out(t) for t in mine])


async def restaurant(session: AsyncSession, principal: Principal, store_id: uuid.UUID) -> Store:
    """A restaurant store the principal may manage: 404 / 403 as ``store_for``, 409 ``not_restaurant``."""
    principal.require(Role.MANAGER)
    store = await store_for(session, principal, store_id)
    if store.mode != "restaurant":
        raise NotRestaurantError("this store is not a restaurant", store_id=str(store_id))
    return store


async def changed(session: AsyncSession, store_id: uuid.UUID) -> None:
    """Announce the store's floor as it now is (its rev was taken when the change began)."""
    await session.flush()
    emit(session, floor_stream(store_id), FLOOR_EVENT, await read_floor(session, store_id))


async def _tables(session: AsyncSession, store_id: uuid.UUID) -> list[FloorTable]:
    query = select(FloorTable).where(FloorTable.store_id == store_id)
    return list((await session.execute(query)).scalars())


async def plan(session: AsyncSession, store_id: uuid.UUID) -> FloorPlanOut:
    settings = await floor_settings(session, store_id)
    areas = (
        await session.execute(
            select(FloorArea)
            .where(FloorArea.store_id == store_id, FloorArea.active)
            .order_by(FloorArea.position, FloorArea.name, FloorArea.id)
        )
    ).scalars()
    tables = await _tables(session, store_id)
    return FloorPlanOut(
        store_id=store_id,
        tip_percent=settings.tip_percent,
        rev=settings.rev,
        areas=[area_out(a, tables) for a in areas],
    )


async def _in_store(
    session: AsyncSession, model: type[FloorArea] | type[FloorTable], id_: uuid.UUID, store_id: uuid.UUID
) -> FloorArea | FloorTable:
    what = "area" if model is FloorArea else "table"
    row = await get_or_404(session, model, id_, what)
    if row.store_id != store_id:
        raise NotFoundError(f"{what} not found", id=str(id_))
    return row


async def _area(session: AsyncSession, area_id: uuid.UUID, store_id: uuid.UUID) -> FloorArea:
    area = await _in_store(session, FloorArea, area_id, store_id)
    assert isinstance(area, FloorArea)
    if not area.active:  # deleted, kept only for the history of its old tables
        raise NotFoundError("area not found", id=str(area_id))
    return area


async def _table(session: AsyncSession, table_id: uuid.UUID, store_id: uuid.UUID) -> FloorTable:
    table = await _in_store(session, FloorTable, table_id, store_id)
    assert isinstance(table, FloorTable)
    return table


NAME_TAKEN = "a table with that name is already on this store's floor"


class FloorController(Controller):
    path = "/stores/{store_id:uuid}/floor"
    tags = ["restaurant"]

    @get("/", summary="A restaurant store's floor plan (inactive tables too) and its tip percent")
    async def get_plan(
        self, store_id: FromPath[uuid.UUID], principal: PrincipalDep, services: ServicesDep
    ) -> FloorPlanOut:
        async with tenant_session(services, principal) as session:
            await restaurant(session, principal, store_id)
            return await plan(session, store_id)

    @patch("/", summary="Change the store's suggested tip percent (propina)")
    async def patch_floor(
        self,
        store_id: FromPath[uuid.UUID],
        data: JSONBody[FloorPatch],
        principal: PrincipalDep,
        services: ServicesDep,
    ) -> FloorPlanOut:
        require_some(tip_percent=data.tip_percent)
        async with tenant_session(services, principal) as session:
            await restaurant(session, principal, store_id)
            await next_rev(session, store_id)
            settings = await floor_settings(session, store_id)
            if not isinstance(data.tip_percent, msgspec.UnsetType):
                settings.tip_percent = data.tip_percent
            await changed(session, store_id)
            return await plan(session, store_id)

    @post("/areas", summary="Add an area (room) to the floor")
    async def add_area(
        self,
        store_id: FromPath[uuid.UUID],
        data: JSONBody[AreaIn],
        principal: PrincipalDep,
        services: ServicesDep,
    ) -> AreaOut:
        async with tenant_session(services, principal) as session:
            await restaurant(session, principal, store_id)
            await next_rev(session, store_id)
            area = FloorArea(store_id=store_id, name=data.name.strip(), position=data.position)
            session.add(area)
            await changed(session, store_id)
            return area_out(area, [])

    @patch("/areas/{area_id:uuid}", summary="Rename or reorder an area")
    async def patch_area(
        self,
        store_id: FromPath[uuid.UUID],
        area_id: FromPath[uuid.UUID],
        data: JSONBody[AreaPatch],
        principal: PrincipalDep,
        services: ServicesDep,
    ) -> AreaOut:
        require_some(name=data.name, position=data.position)
        async with tenant_session(services, principal) as session:
            await restaurant(session, principal, store_id)
            await next_rev(session, store_id)
            area = await _area(session, area_id, store_id)
            if not isinstance(data.name, msgspec.UnsetType):
                area.name = data.name.strip()
            if not isinstance(data.position, msgspec.UnsetType):
                area.position = data.position
            await changed(session, store_id)
            return area_out(area, await _tables(session, store_id))

    @delete("/areas/{area_id:uuid}", summary="Delete an area without tables")
    async def delete_area(
        self,
        store_id: FromPath[uuid.UUID],
        area_id: FromPath[uuid.UUID],
        principal: PrincipalDep,
        services: ServicesDep,
    ) -> None:
        async with tenant_session(services, principal) as session:
            await restaurant(session, principal, store_id)
            await next_rev(session, store_id)
            area = await _area(session, area_id, store_id)
            tables = [t for t in await _tables(session, store_id) if t.area_id == area.id]
            if any(t.active for t in tables):
                raise ConflictError(
                    "the area still has tables: move or delete them first", area_id=str(area_id)
                )
            if tables:  # only deactivated ones, whose tabs still name them: the area stays, hidden
                area.active = False
            else:
                await session.delete(area)
            await changed(session, store_id)

    @post("/tables", summary="Add a table to an area")
    async def add_table(
        self,
        store_id: FromPath[uuid.UUID],
        data: JSONBody[TableIn],
        principal: PrincipalDep,
        services: ServicesDep,
    ) -> TableOut:
        async with tenant_session(services, principal) as session:
            await restaurant(session, principal, store_id)
            await next_rev(session, store_id)
            await _area(session, data.area_id, store_id)
            table = FloorTable(
                store_id=store_id, area_id=data.area_id, name=data.name.strip(), seats=data.seats,
                x=data.x, y=data.y, shape=data.shape, active=True,
            )  # fmt: skip
            session.add(table)
            await flush_or_conflict(session, NAME_TAKEN)
            await changed(session, store_id)
            return table_out(table)

    @patch("/tables/{table_id:uuid}", summary="Move, rename, resize or (de)activate a table")
    async def patch_table(
        self,
        store_id: FromPath[uuid.UUID],
        table_id: FromPath[uuid.UUID],
        data: JSONBody[TablePatch],
        principal: PrincipalDep,
        services: ServicesDep,
    ) -> TableOut:
        require_some(area_id=data.area_id, name=data.name, seats=data.seats, x=data.x, y=data.y,
                     shape=data.shape, active=data.active)  # fmt: skip
        async with tenant_session(services, principal) as session:
            await restaurant(session, principal, store_id)
            await next_rev(session, store_id)
            table = await _table(session, table_id, store_id)
            if not isinstance(data.area_id, msgspec.UnsetType):
                table.area_id = (await _area(session, data.area_id, store_id)).id
            if data.active is False and table.active:
                await _not_busy(session, table.id)
            for field in ("name", "seats", "x", "y", "shape", "active"):
                value = getattr(data, field)
                if not isinstance(value, msgspec.UnsetType):
                    setattr(
                        table, field, value.strip() if isinstance(value, str) and field == "name" else value
                    )
            await flush_or_conflict(session, NAME_TAKEN)
            await changed(session, store_id)
            return table_out(table)

    @delete("/tables/{table_id:uuid}", summary="Delete a table (deactivated instead if it has tab history)")
    async def delete_table(
        self,
        store_id: FromPath[uuid.UUID],
        table_id: FromPath[uuid.UUID],
        principal: PrincipalDep,
        services: ServicesDep,
    ) -> None:
        async with tenant_session(services, principal) as session:
            await restaurant(session, principal, store_id)
            await next_rev(session, store_id)
            table = await _table(session, table_id, store_id)
            await _not_busy(session, table.id)
            history = (await session.execute(select(Tab.id).where(Tab.table_id == table.id).limit(1))).first()
            if history is None:
                await session.delete(table)
            else:
                table.active = False
            await changed(session, store_id)


async def _not_busy(session: AsyncSession, table_id: uuid.UUID) -> None:
    open_tab = (
        await session.execute(select(Tab.id).where(Tab.table_id == table_id, Tab.status == "open"))
    ).scalar_one_or_none()
    if open_tab is not None:
        raise TableBusyError("the table has an open tab", tab_id=str(open_tab))


ROUTES = [FloorController]
