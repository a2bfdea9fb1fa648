"""On Postgres, two registers fire 200 concurrent checkouts at nearly-out-of-stock products (block policy).

Stock never goes below zero, folios are unique and gapless within their range, sale numbers are gapless,
every acknowledged sale exists exactly once, and a checkout sent twice with the same id makes one sale.
"""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
from sqlalchemy import select

from actors.checkout import OutOfStockError, PricedLine, SaleContext, commit_sale
from actors.sales.settlement import settle
from actors.sales.totals import cart_totals
from hub.admin import create_tenant
from hub.db import Database
from schema.messages.till import CartLine, SaleReceipt, Tender
from schema.models import CashSession, FolioRange, Product, Register, Sale, StockLevel, StockMovement

pytestmark = pytest.mark.postgres

PRICE = 1000
STOCK_UNITS = 40  # per product; three products, 200 checkouts of two units each: many must be refused


async def setup_shop(db: Database) -> tuple[list[SaleContext], list[uuid.UUID]]:
    made = await create_tenant(
        db, slug=f"c-{uuid.uuid4().hex[:8]}", name="C", country="CL", tax_id="76086428-5"
    )
    products = [uuid.uuid4() for _ in range(3)]
    contexts = []
    async with db.tenant(made.tenant_id) as session:
        for n, product_id in enumerate(products):
            session.add(Product(id=product_id, sku=f"P{n}", name=f"Producto {n}", search_name=f"producto {n}",
                                price=PRICE, tax_class="cl_iva"))  # fmt: skip
        register2 = Register(store_id=made.store_id, code="2", name="Caja 2")
        session.add(register2)
        await session.flush()
        for product_id in products:
            session.add(StockLevel(warehouse_id=made.warehouse_id, product_id=product_id,
                                   quantity=STOCK_UNITS * 1000, avg_cost=700 * 10_000))  # fmt: skip
        session.add(FolioRange(doc_type=39, first_folio=5001, last_folio=5999, next_folio=5001))
        for register_id in (made.register_id, register2.id):
            cash = CashSession(register_id=register_id, float_amount=0)
            session.add(cash)
            await session.flush()
            contexts.append(
                SaleContext(
                    tenant_id=made.tenant_id, register_id=register_id, store_id=made.store_id,
                    warehouse_id=made.warehouse_id, cash_session_id=cash.id, user_id=None,
                    block_negative_stock=True,
                )
            )  # fmt: skip
    return contexts, products


def cart(products: list[uuid.UUID], rng: random.Random) -> list[PricedLine]:
    chosen = rng.sample(products, 2)  # two different products, in random order: locks must not deadlock
    return [
        PricedLine(
            CartLine(
                line_id=n,
                product_id=pid,
                sku="P",
                name="P",
                unit="unit",
                quantity=1000,
                unit_price=PRICE,
                total=PRICE,
            ),
            "cl_iva",
        )
        for n, pid in enumerate(chosen, start=1)
    ]


async def test_two_hundred_concurrent_checkouts(pg_db: Database) -> None:
    contexts, products = await setup_shop(pg_db)
    rng = random.Random(7)
    attempts: list[tuple[SaleContext, str, list[PricedLine]]] = []
    for n in range(200):
        ctx = contexts[n % 2]
        if n % 10 == 9:  # every tenth checkout resends the one before it on the same register, same cart
            attempts.append(attempts[n - 2])
        else:
            attempts.append((ctx, f"cmd-{n}", cart(products, rng)))

    async def attempt(ctx: SaleContext, command_id: str, lines: list[PricedLine]) -> SaleReceipt | None:
        totals = cart_totals([(p.line, p.tax_class) for p in lines])
        settlement = settle(totals.total, [Tender(kind="card", amount=totals.total)], "CLP")
        try:
            return await commit_sale(pg_db, ctx, command_id, lines, totals.taxes, settlement, 39)
        except OutOfStockError:
            return None

    results = await asyncio.gather(*(attempt(*a) for a in attempts))
    acknowledged = {r.sale_id: r for r in results if r is not None}

    tenant_id = contexts[0].tenant_id
    async with pg_db.tenant(tenant_id) as session:
        sales = (await session.execute(select(Sale))).scalars().all()
        levels = (await session.execute(select(StockLevel))).scalars().all()
        moves = (await session.execute(select(StockMovement))).scalars().all()
        folio_range = (await session.execute(select(FolioRange))).scalar_one()

    assert {s.id for s in sales} == set(acknowledged)  # every acknowledged sale, exactly once, nothing else
    assert len(sales) == len(acknowledged) > 0
    assert all(level.quantity >= 0 for level in levels)  # block policy: never below zero
    sold = 2 * len(sales)
    assert sum(level.quantity for level in levels) == 3 * STOCK_UNITS * 1000 - sold * 1000
    assert sum(-m.quantity for m in moves) == sold * 1000  # the ledger agrees with the levels
    folios = sorted(s.folio for s in sales if s.folio is not None)
    assert folios == list(range(5001, 5001 + len(sales)))  # unique and gapless
    assert folio_range.next_folio == 5001 + len(sales)
    assert sorted(s.number for s in sales) == list(range(1, len(sales) + 1))
    by_command: dict[tuple[uuid.UUID, str], list[uuid.UUID]] = {}
    for sale in sales:
        by_command.setdefault((sale.register_id, sale.command_id), []).append(sale.id)
    assert all(len(ids) == 1 for ids in by_command.values())
    # The resends got the very sale their original made (or were both refused for stock).
    for n in range(len(attempts)):
        if n % 10 == 9:
            original, resend = results[n - 2], results[n]
            assert (original is None) == (resend is None)
            if original is not None and resend is not None:
                assert original.sale_id == resend.sale_id
