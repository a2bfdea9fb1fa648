"""Folios are taken in order from ranges SII still honours: a range whose CAF has expired is passed over at
the checkout (both commit paths) and when a waiting document gets its folio later."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from actors.checkout import PricedLine, SaleContext, commit_sale, next_folio
from actors.sales.settlement import settle
from actors.sales.totals import cart_totals
from hub.admin import create_tenant
from hub.db import Database
from schema.messages.till import CartLine, Tender
from schema.models import CafFile, CashSession, FiscalDocument, FolioRange, Product, StockLevel


async def shop(db: Database) -> tuple[SaleContext, uuid.UUID]:
    made = await create_tenant(
        db, slug=f"f-{uuid.uuid4().hex[:8]}", name="F", country="CL", tax_id="76086428-5"
    )
    async with db.tenant(made.tenant_id) as session:
        product = Product(sku="P1", name="Leche", search_name="leche", price=1000, tax_class="cl_iva")
        session.add(product)
        cash = CashSession(register_id=made.register_id, float_amount=0)
        session.add(cash)
        await session.flush()
        session.add(
            StockLevel(warehouse_id=made.warehouse_id, product_id=product.id, quantity=10**6, avg_cost=0)
        )
        yesterday = date.today() - timedelta(days=1)
        for first, last, expires in (
            (1, 10, yesterday),
            (11, 20, None),
            (21, 30, date.today() + timedelta(days=90)),
        ):
            folios = FolioRange(doc_type=33, first_folio=first, last_folio=last, next_folio=first)
            session.add(folios)
            await session.flush()
            caf = CafFile(doc_type=33, first_folio=first, last_folio=last, authorized=yesterday, idk=100,
                          sealed_xml=b"sealed", folio_range_id=folios.id, expires=expires)  # fmt: skip
            session.add(caf)
    return SaleContext(
        tenant_id=made.tenant_id, register_id=made.register_id, store_id=made.store_id,
        warehouse_id=made.warehouse_id, cash_session_id=cash.id, user_id=None, block_negative_stock=False,
    ), product.id  # fmt: skip


async def sell(db: Database, ctx: SaleContext, product_id: uuid.UUID) -> int | None:
    line = CartLine(line_id=1, product_id=product_id, sku="P1", name="Leche", unit="unit", quantity=1000,
                    unit_price=1000, total=1000)  # fmt: skip
    totals = cart_totals([(line, "cl_iva")])
    settlement = settle(totals.total, [Tender(kind="card", amount=1000)], "CLP")
    buyer = {"rut": "76354771-K", "razon_social": "X", "giro": "G", "address": "A", "comuna": "C", "city": ""}
    receipt = await commit_sale(db, ctx, uuid.uuid4().hex, [PricedLine(line, "cl_iva")], totals.taxes,
                                settlement, 33, buyer=buyer)  # fmt: skip
    return receipt.folio


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


async def test_an_expired_cafs_range_is_passed_over(db: Database) -> None:
    ctx, product_id = await shop(db)
    assert [await sell(db, ctx, product_id) for _ in range(3)] == [11, 12, 13]  # 1-10's CAF expired yesterday
    async with db.tenant(ctx.tenant_id) as session:
        assert await next_folio(session, 33) == (14, "")
        ranges = {r.first_folio: r.next_folio for r in (await session.execute(select(FolioRange))).scalars()}
        assert ranges == {1: 1, 11: 15, 21: 21}
        documents = (await session.execute(select(FiscalDocument.folio))).scalars().all()
        assert sorted(documents) == [11, 12, 13]
