"""Stock levels and their ledger: locking rows in a fixed order, receiving goods at a cost (PPP).

Every change to a stock level writes a ``stock_movements`` row in the same transaction, with the
quantity and average cost after it, so a product's history can be replayed and audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from actors.sales.average_cost import StockState, receive
from hub.db import Database
from hub.events.outbox import emit
from schema.errors import NotFoundError, ValidationError
from schema.ids import uuid7
from schema.models import Product, StockLevel, StockMovement, Warehouse
from schema.money import round_half_up


@dataclass(frozen=True, slots=True)
class ReceivedLine:
    product_id: uuid.UUID
    quantity: int  # thousandths of the unit, > 0
    unit_cost: int  # minor units per unit, >= 0


async def lock_levels(
    session: AsyncSession, tenant_id: uuid.UUID, warehouse_id: uuid.UUID, product_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """Lock these products' stock rows in product order (concurrent writers never deadlock), creating any
    missing row at zero; returns product -> (quantity, avg_cost)."""
    ordered = sorted(set(product_ids))
    query = (
        select(StockLevel.product_id, StockLevel.quantity, StockLevel.avg_cost)
        .where(StockLevel.warehouse_id == warehouse_id, StockLevel.product_id.in_(ordered))
        .order_by(StockLevel.product_id)
        .with_for_update()
    )
    levels = {row.product_id: (row.quantity, row.avg_cost) for row in await session.execute(query)}
    missing = [pid for pid in ordered if pid not in levels]
    if missing:
        insert_ = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        now = datetime.now(UTC)
        rows = [
            {"tenant_id": tenant_id, "warehouse_id": warehouse_id, "product_id": pid, "quantity": 0,
             "avg_cost": 0, "updated_at": now}
            for pid in missing
        ]  # fmt: skip
        await session.execute(insert_(StockLevel).values(rows).on_conflict_do_nothing())
        levels = {row.product_id: (row.quantity, row.avg_cost) for row in await session.execute(query)}
    return levels


async def receive_stock(
    db: Database,
    tenant_id: uuid.UUID,
    warehouse_id: uuid.UUID,
    lines: list[ReceivedLine],
    user_id: uuid.UUID | None,
    note: str = "",
) -> list[dict[str, object]]:
    """Goods in at a unit cost: quantities grow and the average cost (PPP) moves, in one transaction."""
    if not lines:
        raise ValidationError("a receipt needs at least one line")
    if len({line.product_id for line in lines}) != len(lines):
        raise ValidationError("each product may appear once per receipt")
    async with db.tenant(tenant_id) as session:
        if await session.get(Warehouse, (tenant_id, warehouse_id)) is None:
            raise NotFoundError("warehouse not found", warehouse_id=str(warehouse_id))
        ids = [line.product_id for line in lines]
        known = set((await session.execute(select(Product.id).where(Product.id.in_(ids)))).scalars())
        unknown = [str(pid) for pid in ids if pid not in known]
        if unknown:
            raise NotFoundError("product not found", product_ids=unknown)
        levels = await lock_levels(session, tenant_id, warehouse_id, ids)
        receipt_id = uuid7()
        result: list[dict[str, object]] = []
        updates: list[dict[str, object]] = []
        movements: list[dict[str, object]] = []
        for line in sorted(lines, key=lambda item: item.product_id):
            quantity, avg_cost = levels[line.product_id]
            state = receive(StockState(quantity=quantity, avg_cost=avg_cost), line.quantity, line.unit_cost)
            key = {"tenant_id": tenant_id, "warehouse_id": warehouse_id, "product_id": line.product_id}
            updates.append(key | {"quantity": state.quantity, "avg_cost": state.avg_cost})
            movements.append(
                key
                | {
                    "id": uuid7(),
                    "kind": "receipt",
                    "quantity": line.quantity,
                    "cost": round_half_up(line.quantity * line.unit_cost, 1000),
                    "avg_cost_after": state.avg_cost,
                    "quantity_after": state.quantity,
                    "ref_id": receipt_id,
                    "user_id": user_id,
                }
            )
            result.append(
                {"product_id": str(line.product_id), "quantity": state.quantity, "avg_cost": state.avg_cost}
            )
        await session.execute(update(StockLevel), updates)
        await session.execute(insert(StockMovement), movements)
        emit(
            session,
            "tenant",
            "StockReceived",
            {
                "receipt_id": str(receipt_id),
                "warehouse_id": str(warehouse_id),
                "note": note,
                "levels": result,
            },
        )
    return result
