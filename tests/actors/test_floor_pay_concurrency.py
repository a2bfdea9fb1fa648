"""On Postgres, two hub nodes (two actor systems, each with the store's FloorActor) take payment for the same
items of one tab at the same moment: exactly one sale gets them, the other payment is refused and leaves no
trace (no sale, no tender, no fiscal document, no number or folio used), and the store's floor revs stay
gapless."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from actors.checkout import SaleContext, commit_sale
from actors.deps import ActorDeps
from actors.floor import FloorCommand, floor_ref
from actors.floor_errors import AlreadyPaidError, TabChangedError, TabClosedError
from actors.floor_pay import paid_hook, plan_payment
from actors.floor_tabs import add_item, open_tab
from actors.runtime import ActorSystem
from hub.admin import create_tenant
from hub.auth.principal import Principal
from hub.db import Database
from hub.events.bus import LocalBus
from schema.messages.restaurant import AddToTab, PayItem, PayTab
from schema.messages.till import SaleReceipt, Tender
from schema.models import (
    CashSession,
    FiscalDocument,
    FloorArea,
    FloorSettings,
    FloorTable,
    FolioRange,
    OutboxEvent,
    Product,
    Role,
    Sale,
    SaleTender,
    TabItem,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
async def nodes(pg_db: Database) -> AsyncIterator[list[ActorSystem]]:
    systems = [ActorSystem(name=f"node-{n}", idle_after=None) for n in range(2)]
    for system in systems:
        await system.start()
    yield systems
    for system in systems:
        await system.stop()


async def test_two_payers_of_the_same_items_at_once_make_one_sale(
    pg_db: Database, nodes: list[ActorSystem]
) -> None:
    made = await create_tenant(
        pg_db, slug=f"r-{uuid.uuid4().hex[:8]}", name="R", country="CL", tax_id="76086428-5",
        store_mode="restaurant",
    )  # fmt: skip
    tenant_id, store_id = made.tenant_id, made.store_id
    async with pg_db.tenant(tenant_id) as session:
        dish = Product(sku="P1", name="Lomo", search_name="lomo", price=9000, tax_class="cl_iva")
        area = FloorArea(store_id=store_id, name="Salón")
        session.add_all([dish, area, FolioRange(doc_type=39, first_folio=1, last_folio=100, next_folio=1)])
        await session.flush()
        table = FloorTable(store_id=store_id, area_id=area.id, name="M1")
        session.add_all([table, CashSession(register_id=made.register_id, float_amount=0)])
        await session.flush()
    tab = await open_tab(pg_db, tenant_id, store_id, table.id, 2, None)
    for _ in range(3):
        await add_item(pg_db, tenant_id, store_id, AddToTab(tab_id=tab.tab_id, product_id=dish.id), None)

    cashier = Principal(tenant_id=tenant_id, kind="user", role=Role.CASHIER, user_id=uuid.uuid4())
    refs = [
        floor_ref(system, ActorDeps(db=pg_db, bus=LocalBus()), tenant_id, store_id, 10.0) for system in nodes
    ]
    # Lines 1, 2 and 3 in turns (the third payment closes the tab), then line 3 again.
    for round_, n in enumerate([1, 2, 3, 3]):
        pay = PayTab(
            tab_id=tab.tab_id,
            register_id=made.register_id,
            items=[PayItem(n=n, quantity=1000)],
            tenders=[Tender(kind="card", amount=9000)],
        )
        answers = await asyncio.gather(
            *(
                ref.ask(FloorCommand(pay, cashier, f"pay-{round_}-{i}"), timeout=20)
                for i, ref in enumerate(refs)
            ),
            return_exceptions=True,
        )
        sold = [a for a in answers if isinstance(a, SaleReceipt)]
        refused = [a for a in answers if not isinstance(a, SaleReceipt)]
        assert len(sold) == (1 if round_ < 3 else 0), answers
        assert all(isinstance(a, AlreadyPaidError | TabChangedError | TabClosedError) for a in refused), (
            answers
        )

    async with pg_db.tenant(tenant_id) as session:
        sales = list((await session.execute(select(Sale).order_by(Sale.number))).scalars())
        paid = dict((await session.execute(select(TabItem.n, TabItem.sale_id))).tuples().all())
        tenders = (await session.execute(select(func.count()).select_from(SaleTender))).scalar_one()
        documents = list(
            (await session.execute(select(FiscalDocument.folio).order_by(FiscalDocument.folio))).scalars()
        )
        revs = sorted(
            row.payload["rev"]
            for row in (
                await session.execute(select(OutboxEvent).where(OutboxEvent.event == "TabChanged"))
            ).scalars()
        )
        settings = await session.get(FloorSettings, (tenant_id, store_id))
    assert [s.number for s in sales] == [1, 2, 3]  # gapless: the refused payments gave their numbers back
    assert documents == [1, 2, 3]
    assert tenders == 3
    assert paid == {1: sales[0].id, 2: sales[1].id, 3: sales[2].id}
    assert settings is not None and revs == list(range(1, settings.rev + 1))


async def test_payments_planned_together_commit_one_at_most(pg_db: Database) -> None:
    """Both payments are planned from the same tab before either commits (the worst interleaving): the
    database decides, in the sale's own transaction, and the loser's sale rolls back whole."""
    made = await create_tenant(
        pg_db, slug=f"r-{uuid.uuid4().hex[:8]}", name="R", country="CL", tax_id="76086428-5",
        store_mode="restaurant",
    )  # fmt: skip
    tenant_id, store_id = made.tenant_id, made.store_id
    async with pg_db.tenant(tenant_id) as session:
        dish = Product(sku="P1", name="Lomo", search_name="lomo", price=9000, tax_class="cl_iva")
        area = FloorArea(store_id=store_id, name="Salón")
        session.add_all([dish, area])
        await session.flush()
        table = FloorTable(store_id=store_id, area_id=area.id, name="M1")
        cash = CashSession(register_id=made.register_id, float_amount=0)
        session.add_all([table, cash])
        await session.flush()
    tab = await open_tab(pg_db, tenant_id, store_id, table.id, 2, None)
    for _ in range(2):
        await add_item(pg_db, tenant_id, store_id, AddToTab(tab_id=tab.tab_id, product_id=dish.id), None)
    ctx = SaleContext(
        tenant_id=tenant_id, register_id=made.register_id, store_id=store_id, warehouse_id=made.warehouse_id,
        cash_session_id=cash.id, user_id=None, block_negative_stock=False,
    )  # fmt: skip
    pay = PayTab(
        tab_id=tab.tab_id,
        register_id=made.register_id,
        items=[PayItem(n=1, quantity=1000)],
        tenders=[Tender(kind="cash", amount=10_000)],
    )
    plans = []
    for _ in range(2):
        async with pg_db.tenant(tenant_id) as session:
            plans.append(await plan_payment(session, store_id, pay, "CLP"))
    answers = await asyncio.gather(
        *(
            commit_sale(pg_db, ctx, f"pay-{i}", p.lines, p.taxes, p.settlement, 39, tab_id=tab.tab_id,
                        hook=paid_hook(store_id, tab.tab_id, p.picks))
            for i, p in enumerate(plans)
        ),
        return_exceptions=True,
    )  # fmt: skip
    sold = [a for a in answers if isinstance(a, SaleReceipt)]
    assert len(sold) == 1 and isinstance(next(a for a in answers if a not in sold), AlreadyPaidError), answers
    async with pg_db.tenant(tenant_id) as session:
        sales = list((await session.execute(select(Sale.id, Sale.number))).tuples())
        paid = dict((await session.execute(select(TabItem.n, TabItem.sale_id))).tuples().all())
    assert sales == [(sold[0].sale_id, 1)]
    assert paid == {1: sold[0].sale_id, 2: None}
