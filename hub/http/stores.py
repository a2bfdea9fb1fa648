"""``/api/v1/stores``, ``/api/v1/warehouses`` and stock levels per warehouse (read-only here)."""

from __future__ import annotations

import uuid
from datetime import datetime

from litestar import Controller, get
from litestar.params import FromPath, FromQuery
from sqlalchemy import select

from hub.auth.principal import Principal
from hub.http.common import (
    Limit,
    Offset,
    Out,
    PrincipalDep,
    ServicesDep,
    get_or_404,
    tenant_session,
    utc,
    utc_required,
)
from hub.services import Services
from schema.errors import NotFoundError
from schema.models import Role, StockLevel, Store, Warehouse
from schema.money import stock_value


class StoreOut(Out, frozen=True):
    id: uuid.UUID
    code: str
    name: str
    address: str
    city: str
    mode: str
    warehouse_id: uuid.UUID
    created_at: datetime


class WarehouseOut(Out, frozen=True):
    id: uuid.UUID
    name: str
    created_at: datetime


class StockOut(Out, frozen=True):
    warehouse_id: uuid.UUID
    product_id: uuid.UUID
    quantity: int  # thousandths of the product's unit
    value: int | None  # minor units at weighted-average cost; managers and owners only
    avg_cost: int | None  # minor units per unit, scaled by 10,000 (PPP); managers and owners only
    updated_at: datetime | None


def store_out(store: Store) -> StoreOut:
    return StoreOut(
        id=store.id,
        code=store.code,
        name=store.name,
        address=store.address,
        city=store.city,
        mode=store.mode,
        warehouse_id=store.warehouse_id,
        created_at=utc_required(store.created_at),
    )


class StoreController(Controller):
    path = "/stores"
    tags = ["stores"]

    @get("/")
    async def list_stores(self, principal: PrincipalDep, services: ServicesDep) -> list[StoreOut]:
        principal.require(Role.CASHIER)
        query = select(Store).order_by(Store.code)
        if principal.store_id is not None:
            query = query.where(Store.id == principal.store_id)
        async with tenant_session(services, principal) as session:
            return [store_out(s) for s in (await session.execute(query)).scalars()]

    @get("/{store_id:uuid}")
    async def get_store(
        self, store_id: FromPath[uuid.UUID], principal: PrincipalDep, services: ServicesDep
    ) -> StoreOut:
        principal.require(Role.CASHIER)
        if not principal.can_access_store(store_id):
            raise NotFoundError("store not found", id=str(store_id))
        async with tenant_session(services, principal) as session:
            return store_out(await get_or_404(session, Store, store_id, "store"))


async def _visible_warehouses(principal: Principal, services: Services) -> list[Warehouse]:
    query = select(Warehouse).order_by(Warehouse.name)
    if principal.store_id is not None:
        query = query.where(
            Warehouse.id.in_(select(Store.warehouse_id).where(Store.id == principal.store_id))
        )
    async with tenant_session(services, principal) as session:
        return list((await session.execute(query)).scalars())


def warehouse_out(w: Warehouse) -> WarehouseOut:
    return WarehouseOut(id=w.id, name=w.name, created_at=utc_required(w.created_at))


class WarehouseController(Controller):
    path = "/warehouses"
    tags = ["warehouses"]

    @get("/")
    async def list_warehouses(self, principal: PrincipalDep, services: ServicesDep) -> list[WarehouseOut]:
        principal.require(Role.CASHIER)
        return [warehouse_out(w) for w in await _visible_warehouses(principal, services)]

    @get("/{warehouse_id:uuid}")
    async def get_warehouse(
        self, warehouse_id: FromPath[uuid.UUID], principal: PrincipalDep, services: ServicesDep
    ) -> WarehouseOut:
        principal.require(Role.CASHIER)
        for warehouse in await _visible_warehouses(principal, services):
            if warehouse.id == warehouse_id:
                return warehouse_out(warehouse)
        raise NotFoundError("warehouse not found", id=str(warehouse_id))

    @get("/{warehouse_id:uuid}/stock", summary="Stock levels in a warehouse")
    async def list_stock(
        self,
        warehouse_id: FromPath[uuid.UUID],
        principal: PrincipalDep,
        services: ServicesDep,
        product_id: FromQuery[uuid.UUID | None] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> list[StockOut]:
        principal.require(Role.CASHIER)
        if all(w.id != warehouse_id for w in await _visible_warehouses(principal, services)):
            raise NotFoundError("warehouse not found", id=str(warehouse_id))
        show_value = principal.is_at_least(Role.MANAGER)
        query = select(StockLevel).where(StockLevel.warehouse_id == warehouse_id)
        if product_id is not None:
            query = query.where(StockLevel.product_id == product_id)
        query = query.order_by(StockLevel.product_id).limit(limit).offset(offset)
        async with tenant_session(services, principal) as session:
            rows = (await session.execute(query)).scalars()
            return [
                StockOut(
                    warehouse_id=row.warehouse_id,
                    product_id=row.product_id,
                    quantity=row.quantity,
                    value=stock_value(row.quantity, row.avg_cost) if show_value else None,
                    avg_cost=row.avg_cost if show_value else None,
                    updated_at=utc(row.updated_at),
                )
                for row in rows
            ]


ROUTES = [StoreController, WarehouseController]
