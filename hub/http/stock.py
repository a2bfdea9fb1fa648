"""``/api/v1``: goods received into a warehouse (updates PPP) and a product's stock ledger."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy import select

from actors.stock import ReceivedLine, receive_stock
from hub.http.common import (
    In,
    Limit,
    Out,
    PrincipalDep,
    ServicesDep,
    get_or_404,
    tenant_session,
    utc_required,
)
from schema.models import Product, Role, StockMovement


class ReceiptLineIn(In, frozen=True):
    product_id: uuid.UUID
    quantity: Annotated[int, msgspec.Meta(gt=0, le=10**12)]  # thousandths of the unit
    unit_cost: Annotated[int, msgspec.Meta(ge=0, le=10**12)]  # minor units per unit, before tax


class ReceiptIn(In, frozen=True):
    lines: Annotated[list[ReceiptLineIn], msgspec.Meta(min_length=1, max_length=500)]
    note: Annotated[str, msgspec.Meta(max_length=200)] = ""


class LevelOut(Out, frozen=True):
    product_id: uuid.UUID
    quantity: int
    avg_cost: int  # minor units per unit, scaled by 10,000


class MovementOut(Out, frozen=True):
    id: uuid.UUID
    warehouse_id: uuid.UUID
    kind: str
    quantity: int
    cost: int
    quantity_after: int
    avg_cost_after: int
    ref_id: uuid.UUID | None
    user_id: uuid.UUID | None
    created_at: datetime


class StockController(Controller):
    tags = ["stock"]

    @post("/warehouses/{warehouse_id:uuid}/receipts", summary="Receive goods at a unit cost (updates PPP)")
    async def receive(
        self,
        warehouse_id: FromPath[uuid.UUID],
        data: JSONBody[ReceiptIn],
        principal: PrincipalDep,
        services: ServicesDep,
    ) -> list[LevelOut]:
        principal.require(Role.MANAGER)
        lines = [ReceivedLine(line.product_id, line.quantity, line.unit_cost) for line in data.lines]
        levels = await receive_stock(
            services.db, principal.tenant_id, warehouse_id, lines, principal.user_id, data.note
        )
        return [msgspec.convert(level, LevelOut) for level in levels]

    @get("/products/{product_id:uuid}/movements", summary="A product's stock ledger, newest first")
    async def movements(
        self,
        product_id: FromPath[uuid.UUID],
        principal: PrincipalDep,
        services: ServicesDep,
        warehouse_id: FromQuery[uuid.UUID | None] = None,
        limit: Limit = 100,
    ) -> list[MovementOut]:
        principal.require(Role.MANAGER)
        query = select(StockMovement).where(StockMovement.product_id == product_id)
        if warehouse_id is not None:
            query = query.where(StockMovement.warehouse_id == warehouse_id)
        query = query.order_by(StockMovement.created_at.desc(), StockMovement.id.desc()).limit(limit)
        async with tenant_session(services, principal) as session:
            await get_or_404(session, Product, product_id, "product")
            rows = (await session.execute(query)).scalars().all()
        return [
            MovementOut(
                id=m.id,
                warehouse_id=m.warehouse_id,
                kind=m.kind,
                quantity=m.quantity,
                cost=m.cost,
                quantity_after=m.quantity_after,
                avg_cost_after=m.avg_cost_after,
                ref_id=m.ref_id,
                user_id=m.user_id,
                created_at=utc_required(m.created_at),
            )
            for m in rows
        ]


ROUTES = [StockController]
