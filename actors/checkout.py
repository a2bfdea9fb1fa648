"""Completing a sale: ONE database transaction for the sale, its lines and tenders, the stock (weighted
average cost), the sale number, the folio, the pending fiscal document and the outbox events.

Row locks are always taken in the same order (stock rows by product id, then the sale counter, then the
folio range), so concurrent checkouts of several registers wait for each other and never deadlock. On
Postgres the locks and unique constraints are what make it right across hub nodes; on SQLite every
transaction takes the write lock when it begins. A checkout whose command id was already used by this
register returns the sale made the first time: a till that lost the reply and resends never sells twice.

A caller with more to write in the same transaction (a restaurant tab marks the items the sale paid) passes
``hook``: it runs after the sale's rows, inside the transaction, and whatever it raises rolls the whole sale
back. It does not run when the command id had already made its sale.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, bindparam, exists, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from actors.checkout_pg import chile_today, commit_sale_pg
from actors.sale_plan import (
    OutOfStockError,
    PricedLine,
    ProductFacts,
    SaleContext,
    plan_stock,
    tax_dict,
)
from actors.sales.settlement import Settlement
from actors.stock import lock_levels
from hub.db import Database
from hub.events.outbox import emit
from schema.ids import utc_iso, uuid7
from schema.messages.till import CartLine, SaleReceipt, TaxLine, TenderView
from schema.models import (
    Base,
    CafFile,
    Counter,
    FiscalDocument,
    FolioRange,
    Product,
    Sale,
    SaleLine,
    SaleTender,
    StockLevel,
    StockMovement,
)

__all__ = [
    "OutOfStockError",
    "PricedLine",
    "SaleContext",
    "SaleHook",
    "claim_command",
    "commit_sale",
    "find_sale",
    "next_folio",
    "next_number",
    "receipt_of",
    "tax_dict",
]

# Statements built once: a checkout runs on the hub's event loop, and building and cache-keying SQLAlchemy
# statements per call was half of its CPU. Each call only binds parameters.
# Runs inside the sale's transaction, after its rows are written (see the module docstring).
SaleHook = Callable[[AsyncSession, SaleReceipt], Awaitable[None]]

_SALE_BY_COMMAND = select(Sale).where(
    Sale.register_id == bindparam("register_id"), Sale.command_id == bindparam("command_id")
)


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


_INSERT_SALE = _table(Sale).insert()
_INSERT_LINES = _table(SaleLine).insert()
_INSERT_TENDERS = _table(SaleTender).insert()
_INSERT_DOCUMENT = _table(FiscalDocument).insert()
_INSERT_MOVEMENTS = _table(StockMovement).insert()
_LEVELS = _table(StockLevel)
_UPDATE_LEVEL = (
    _LEVELS.update()
    .where(
        _LEVELS.c.tenant_id == bindparam("k_tenant"),
        _LEVELS.c.warehouse_id == bindparam("k_warehouse"),
        _LEVELS.c.product_id == bindparam("k_product"),
    )
    .values(
        quantity=bindparam("quantity"), avg_cost=bindparam("avg_cost"), updated_at=bindparam("updated_at")
    )
)
_PRODUCT_FACTS = select(Product.id, Product.sku, Product.name, Product.min_stock).where(
    Product.id.in_(bindparam("ids", expanding=True))
)


async def claim_command(session: AsyncSession, register_id: uuid.UUID, command_id: str) -> SaleReceipt | None:
    """The document this register's command id already made, if any.

    On Postgres it first takes an advisory lock on (register, command id): a resend racing its original
    (a till that reconnected to another node) waits for it here and then finds its document, instead of
    competing for the same stock.
    """
    if session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"checkout:{register_id}:{command_id}"},
        )
    made = (
        await session.execute(_SALE_BY_COMMAND, {"register_id": register_id, "command_id": command_id})
    ).scalar_one_or_none()
    return None if made is None else await receipt_of(session, made)


async def find_sale(
    db: Database, tenant_id: uuid.UUID, register_id: uuid.UUID, command_id: str
) -> SaleReceipt | None:
    async with db.tenant(tenant_id) as session:
        return await claim_command(session, register_id, command_id)


async def commit_sale(
    db: Database,
    ctx: SaleContext,
    command_id: str,
    lines: list[PricedLine],
    taxes: list[TaxLine],
    settlement: Settlement,
    doc_type: int,
    *,
    buyer: dict[str, str] | None = None,
    tab_id: uuid.UUID | None = None,
    hook: SaleHook | None = None,
) -> SaleReceipt:
    """Commit a sale (see the module docstring); on Postgres through ``actors.checkout_pg``."""
    if db.is_postgres:
        async with db.tenant(ctx.tenant_id) as session:
            done = await commit_sale_pg(
                session, ctx, command_id, lines, taxes, settlement, doc_type, buyer, tab_id
            )
            if isinstance(done, SaleReceipt):
                if hook is not None:
                    await hook(session, done)
                return done
            sale = await session.get(Sale, (ctx.tenant_id, done))
            assert sale is not None
            return await receipt_of(session, sale)
    return await commit_sale_portable(
        db, ctx, command_id, lines, taxes, settlement, doc_type, buyer=buyer, tab_id=tab_id, hook=hook
    )


async def commit_sale_portable(
    db: Database,
    ctx: SaleContext,
    command_id: str,
    lines: list[PricedLine],
    taxes: list[TaxLine],
    settlement: Settlement,
    doc_type: int,
    *,
    buyer: dict[str, str] | None = None,
    tab_id: uuid.UUID | None = None,
    hook: SaleHook | None = None,
) -> SaleReceipt:
    """The same commit through SQLAlchemy statements: SQLite's path (and a reference for Postgres)."""
    async with db.tenant(ctx.tenant_id) as session:
        made = await claim_command(session, ctx.register_id, command_id)
        if made is not None:
            return made
        sale_id = uuid7()
        costs = await _take_stock(session, ctx, sale_id, lines)
        number = await next_number(session, ctx.tenant_id, "sale")
        folio, reason = await next_folio(session, doc_type)
        now = datetime.now(UTC)
        tenant = {"tenant_id": ctx.tenant_id}
        await session.execute(
            _INSERT_SALE,
            [
                tenant
                | {
                    "id": sale_id, "number": number, "kind": "sale", "reason": "",
                    "register_id": ctx.register_id, "store_id": ctx.store_id,
                    "cash_session_id": ctx.cash_session_id, "user_id": ctx.user_id,
                    "command_id": command_id, "doc_type": doc_type, "folio": folio, "total": settlement.total,
                    "rounding": settlement.rounding, "to_pay": settlement.to_pay, "change": settlement.change,
                    "cost": sum(costs.values()), "taxes": [tax_dict(t) for t in taxes], "created_at": now,
                    "buyer": buyer, "tip": settlement.tip, "tab_id": tab_id,
                }
            ],
        )  # fmt: skip
        await session.execute(_INSERT_LINES, [tenant | row for row in _sale_lines(sale_id, lines, costs)])
        await session.execute(
            _INSERT_TENDERS,
            [
                tenant
                | {"sale_id": sale_id, "n": n, "kind": t.kind, "amount": t.amount,
                   "tendered": t.tendered, "change": t.change}
                for n, t in enumerate(settlement.tenders, start=1)
            ],
        )  # fmt: skip
        await session.execute(
            _INSERT_DOCUMENT,
            [
                tenant
                | {"id": uuid7(), "sale_id": sale_id, "doc_type": doc_type, "folio": folio,
                   "status": "pending", "reason": reason, "created_at": now}
            ],
        )  # fmt: skip
        receipt = SaleReceipt(
            sale_id=sale_id,
            number=number,
            register_id=ctx.register_id,
            doc_type=doc_type,
            folio=folio,
            lines=[p.line for p in lines],
            taxes=taxes,
            total=settlement.total,
            rounding=settlement.rounding,
            to_pay=settlement.to_pay,
            tenders=settlement.tenders,
            change=settlement.change,
            created_at=now.isoformat(),
            tip=settlement.tip,
            tab_id=tab_id,
        )
        emit(session, "tenant", "SaleCompleted", receipt)
        emit(session, f"register:{ctx.register_id}", "SaleCompleted", receipt)
        if hook is not None:
            await hook(session, receipt)
    return receipt


async def _take_stock(
    session: AsyncSession, ctx: SaleContext, sale_id: uuid.UUID, lines: list[PricedLine]
) -> dict[int, int]:
    """Lock, plan and write the stock changes of a sale; returns the cost of goods per line."""
    product_ids = sorted({priced.line.product_id for priced in lines})
    levels = await lock_levels(session, ctx.tenant_id, ctx.warehouse_id, product_ids)
    facts = {
        row.id: ProductFacts(*levels[row.id], row.sku, row.name, row.min_stock)
        for row in await session.execute(_PRODUCT_FACTS, {"ids": product_ids})
    }
    plan = plan_stock(ctx, lines, facts)
    now = datetime.now(UTC)
    rows = zip(plan.product_ids, plan.quantities, plan.avg_costs, plan.issued, plan.costs, strict=True)
    updates: list[dict[str, object]] = []
    movements: list[dict[str, object]] = []
    for product_id, quantity, avg_cost, issued, cost in rows:
        updates.append(
            {"k_tenant": ctx.tenant_id, "k_warehouse": ctx.warehouse_id, "k_product": product_id,
             "quantity": quantity, "avg_cost": avg_cost, "updated_at": now}
        )  # fmt: skip
        movements.append(
            {"tenant_id": ctx.tenant_id, "warehouse_id": ctx.warehouse_id, "product_id": product_id,
             "id": uuid7(), "kind": "sale", "quantity": -issued, "cost": cost, "avg_cost_after": avg_cost,
             "quantity_after": quantity, "ref_id": sale_id, "user_id": ctx.user_id, "created_at": now}
        )  # fmt: skip
    for event in plan.low_stock:
        emit(session, "tenant", "LowStock", event)
    await session.execute(_UPDATE_LEVEL, updates)
    await session.execute(_INSERT_MOVEMENTS, movements)
    return plan.line_costs


async def next_number(session: AsyncSession, tenant_id: uuid.UUID, name: str) -> int:
    """The tenant's next number of ``name``; the UPDATE holds the counter's row lock until commit."""
    bump = (
        update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
    )
    value = (await session.execute(bump)).scalar_one_or_none()
    if value is None:  # the tenant's first sale
        insert_ = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        await session.execute(
            insert_(Counter).values(tenant_id=tenant_id, name=name, value=0).on_conflict_do_nothing()
        )
        value = (await session.execute(bump)).scalar_one()
    return int(value)


async def next_folio(session: AsyncSession, doc_type: int) -> tuple[int | None, str]:
    """The next folio of the oldest usable range that still has one; ranges are consumed in order, gapless.

    A range whose CAF has expired (SII refuses its folios) is passed over. The UPDATE repeats the "still
    has one" condition: Postgres re-checks it against the row a concurrent checkout just committed, so a
    range exhausted meanwhile is skipped instead of overrun.
    """
    usable = (
        FolioRange.doc_type == doc_type,
        FolioRange.next_folio <= FolioRange.last_folio,
        ~exists().where(CafFile.folio_range_id == FolioRange.id, CafFile.expires <= chile_today()),
    )
    for _ in range(3):
        oldest = (
            select(FolioRange.id).where(*usable).order_by(FolioRange.first_folio).limit(1).scalar_subquery()
        )
        taken = (
            await session.execute(
                update(FolioRange)
                .where(FolioRange.id == oldest, FolioRange.next_folio <= FolioRange.last_folio)
                .values(next_folio=FolioRange.next_folio + 1)
                .returning(FolioRange.next_folio)
            )
        ).scalar_one_or_none()
        if taken is not None:
            return int(taken) - 1, ""
        still_available = (await session.execute(select(FolioRange.id).where(*usable).limit(1))).first()
        if still_available is None:
            break
    return None, f"no folios available for document type {doc_type}"


def _sale_lines(
    sale_id: uuid.UUID, lines: list[PricedLine], costs: dict[int, int]
) -> list[dict[str, object]]:
    return [
        {
            "sale_id": sale_id,
            "line_no": n,
            "product_id": p.line.product_id,
            "sku": p.line.sku,
            "name": p.line.name,
            "unit": p.line.unit,
            "tax_class": p.tax_class,
            "quantity": p.line.quantity,
            "unit_price": p.line.unit_price,
            "discount_percent": p.line.discount_percent,
            "total": p.line.total,
            "cost": costs[p.line.line_id],
        }
        for n, p in enumerate(lines, start=1)
    ]


async def receipt_of(session: AsyncSession, sale: Sale) -> SaleReceipt:
    lines = (
        await session.execute(select(SaleLine).where(SaleLine.sale_id == sale.id).order_by(SaleLine.line_no))
    ).scalars()
    tenders = (
        await session.execute(select(SaleTender).where(SaleTender.sale_id == sale.id).order_by(SaleTender.n))
    ).scalars()
    return SaleReceipt(
        sale_id=sale.id,
        number=sale.number,
        register_id=sale.register_id,
        doc_type=sale.doc_type,
        folio=sale.folio,
        lines=[
            CartLine(
                line_id=line.line_no,
                product_id=line.product_id,
                sku=line.sku,
                name=line.name,
                unit=line.unit,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount_percent=line.discount_percent,
                total=line.total,
            )
            for line in lines
        ],
        taxes=[TaxLine(**t) for t in sale.taxes],
        total=sale.total,
        rounding=sale.rounding,
        to_pay=sale.to_pay,
        tenders=[
            TenderView(kind=t.kind, amount=t.amount, tendered=t.tendered, change=t.change)  # type: ignore[arg-type]
            for t in tenders
        ],
        change=sale.change,
        created_at=utc_iso(sale.created_at),
        tip=sale.tip,
        tab_id=sale.tab_id,
    )
