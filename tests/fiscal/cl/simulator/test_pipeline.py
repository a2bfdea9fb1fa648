"""The fiscal pipeline end to end: real sales in a real database, documents signed and sent to the SII
simulator over HTTP, followed to a final state, under every fault the simulator injects.

Every test checks the same invariants: each document reaches a final state (accepted, or rejected where
the simulator rejects it); the simulator never saw one folio with two contents; what the hub stored is a
DTE that verifies (signature and TED) and says what the sale charged.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from actors.checkout import PricedLine, SaleContext, commit_sale
from actors.returns import commit_return
from actors.sales.lines import cart_line
from actors.sales.settlement import settle
from actors.sales.totals import cart_totals
from fiscal.backoff import Backoff
from fiscal.certificates import Signer, make_test_certificate, rut_of
from fiscal.cl.authority_keys import DemoAuthority
from fiscal.cl.pipeline import ClPipeline, PipelineConfig, SiiAuthority, retry_waiting
from fiscal.cl.schemas import SiiSchemas
from fiscal.cl.setup import SetupData, save_setup, upload_caf, upload_certificate
from fiscal.cl.sii_auth import TokenCache
from fiscal.cl.sii_client import SiiClient
from fiscal.cl.verify import verify_file
from fiscal.keys import at_rest_key
from hub.admin import create_tenant
from hub.db import Database
from schema.messages.catalog import ProductView
from schema.messages.till import Tender
from schema.models import (
    CashSession,
    FiscalDocument,
    FiscalEnvelope,
    FiscalSetup,
    OutboxEvent,
    Product,
    Sale,
    StockLevel,
)
from tests.fiscal.cl.simulator.conftest import Simulator

COMPANY = "76354771-K"
SENDER = "13185095-6"
KEY = at_rest_key("k" * 40)
FAST = Backoff(base=0.01, factor=2.0, cap=0.05, jitter=0.5)


@dataclass
class Shop:
    db: Database
    tenant_id: uuid.UUID
    context: SaleContext
    products: list[ProductView]
    signer: Signer

    async def sell(self, count: int, *, doc_type: int = 39) -> list[uuid.UUID]:
        made = []
        for n in range(count):
            picked = [self.products[n % len(self.products)], self.products[(n + 1) % len(self.products)]]
            priced = [(cart_line(i, p, 1000 * (1 + n % 3)), p.tax_class) for i, p in enumerate(picked, 1)]
            totals = cart_totals(priced)
            settlement = settle(totals.total, [Tender(kind="card", amount=totals.total)], "CLP")
            lines = [PricedLine(line, tax_class) for line, tax_class in priced]
            buyer = None
            if doc_type == 33:
                buyer = {"rut": "76086428-5", "razon_social": "Comercial Los Andes SpA", "giro": "Almacén",
                         "address": "Av. Grecia 1234", "comuna": "Ñuñoa", "city": "Santiago"}  # fmt: skip
            receipt = await commit_sale(
                self.db,
                self.context,
                uuid.uuid4().hex,
                lines,
                totals.taxes,
                settlement,
                doc_type,
                buyer=buyer,
            )
            made.append(receipt.sale_id)
        return made

    async def statuses(self) -> dict[str, int]:
        async with self.db.tenant(self.tenant_id) as session:
            rows = await session.execute(
                select(FiscalDocument.status, func.count()).group_by(FiscalDocument.status)
            )
            return {status: count for status, count in rows}


async def open_shop(
    db: Database, authority: DemoAuthority, *, folios: int = 1000, certificate: bool = True
) -> Shop:
    made = await create_tenant(db, slug=f"t{uuid.uuid4().hex[:10]}", name="Doña Rosa", country="CL",
                               tax_id=COMPANY)  # fmt: skip
    tenant_id = made.tenant_id
    await save_setup(
        db, tenant_id,
        SetupData(rut=COMPANY, sender_rut=SENDER, razon_social="Minimarket Doña Rosa SpA", giro="Minimarket",
                  acteco=[471100], address="Av. Irarrázaval 2100", comuna="Ñuñoa", city="Santiago",
                  resolution_date=date(2014, 8, 22)),
    )  # fmt: skip
    pfx = make_test_certificate(SENDER, "Rosa Pérez", "clave")
    if certificate:
        await upload_certificate(db, tenant_id, pfx, "clave", key=KEY, user_id=None)
    today = date.today()
    for doc_type, last in ((39, folios), (33, 100), (61, 100)):
        caf = authority.issue_caf(COMPANY, "Minimarket Doña Rosa SpA", doc_type, 1, last, today)
        await upload_caf(db, tenant_id, caf, authority_keys=authority.keys, key=KEY, user_id=None)
    products = []
    async with db.tenant(tenant_id) as session:
        for n, (name, price) in enumerate((("Leche entera 1 L", 1090), ("Pan de molde ñandú", 2490),
                                           ("Café en grano", 8990)), start=1):  # fmt: skip
            product = Product(sku=f"{n:05d}", name=name, search_name=name.lower(), price=price,
                              tax_class="cl_iva")  # fmt: skip
            session.add(product)
            await session.flush()
            session.add(StockLevel(warehouse_id=made.warehouse_id, product_id=product.id, quantity=10**9,
                                   avg_cost=500 * 10_000))  # fmt: skip
            products.append(ProductView(id=product.id, sku=product.sku, name=name, price=price,
                                        tax_class="cl_iva", weighable=False, unit="unit"))  # fmt: skip
        cash = CashSession(register_id=made.register_id, float_amount=0)
        session.add(cash)
        await session.flush()
    context = SaleContext(
        tenant_id=tenant_id, register_id=made.register_id, store_id=made.store_id,
        warehouse_id=made.warehouse_id, cash_session_id=cash.id, user_id=None, block_negative_stock=False,
    )  # fmt: skip
    from fiscal.certificates import load_pkcs12

    return Shop(db, tenant_id, context, products, load_pkcs12(pfx, "clave"))


@pytest.fixture
async def pipeline_for(
    simulator: Simulator, schemas: SiiSchemas
) -> AsyncIterator[Callable[[Shop], ClPipeline]]:
    async with httpx.AsyncClient() as http:
        tokens = TokenCache()

        def authority(signer: Signer, setup: FiscalSetup) -> SiiAuthority:
            client = SiiClient(http, simulator.endpoints, signer, tokens, timeout=1.0)
            return SiiAuthority(client, sender_rut=rut_of(signer.certificate), company_rut=setup.rut)

        def make(shop: Shop, **options: Any) -> ClPipeline:
            config = PipelineConfig(key=KEY, schemas=schemas, authority=authority, backoff=FAST,
                                    poll_backoff=FAST, **options)  # fmt: skip
            return ClPipeline(shop.db, shop.tenant_id, config)

        yield make


async def until_final(pipeline: ClPipeline, shop: Shop, *, limit: float = 60) -> dict[str, int]:
    """Run the pipeline (sleeping only as long as it asks) until every document is final."""
    async with asyncio.timeout(limit):
        while True:
            delay = await pipeline.run_once()
            statuses = await shop.statuses()
            if set(statuses) <= {"accepted", "accepted_with_objections", "rejected"}:
                return statuses
            await asyncio.sleep(min(delay if delay is not None else 0.05, 0.05))


async def assert_documents_are_what_was_sold(shop: Shop, simulator: Simulator) -> None:
    snapshot = await simulator.snapshot()
    assert snapshot["counters"].get("conflicting_documents", 0) == 0
    async with shop.db.tenant(shop.tenant_id) as session:
        documents = (await session.execute(select(FiscalDocument))).scalars().all()
        totals = dict((await session.execute(select(Sale.id, Sale.total))).all())
    sent = {(d["type"], d["folio"]) for d in snapshot["documents"]}
    for document in documents[:50]:  # verifying is ~7 ms each: a sample is enough here
        assert document.xml is not None
        verdict = verify_file(document.xml, schemas=None, authority_keys=None)
        assert verdict.ok, verdict.lines()
        assert f"<MntTotal>{abs(totals[document.sale_id])}</MntTotal>".encode() in document.xml
    assert {(d.doc_type, d.folio) for d in documents} == sent


@pytest.mark.postgres
async def test_sales_become_accepted_boletas_facturas_and_credit_notes(
    pg_db: Database,
    authority: DemoAuthority,
    simulator: Simulator,
    pipeline_for: Callable[[Shop], ClPipeline],
) -> None:
    shop = await open_shop(pg_db, authority)
    sold = await shop.sell(12)
    await shop.sell(3, doc_type=33)
    # A credit note voiding the first boleta sale, another returning part of the second.
    ctx = shop.context
    await commit_return(pg_db, ctx, "void-1", sold[0], None, "Cliente desiste", "card", uuid.uuid4(), "CLP")
    await commit_return(pg_db, ctx, "ret-2", sold[1], {1: 1000}, "Producto defectuoso", "card", uuid.uuid4(),
                        "CLP")  # fmt: skip
    statuses = await until_final(pipeline_for(shop), shop)
    assert statuses == {"accepted": 17}
    await assert_documents_are_what_was_sold(shop, simulator)
    async with pg_db.tenant(shop.tenant_id) as session:
        notes = (await session.execute(select(FiscalDocument).where(FiscalDocument.doc_type == 61))).scalars()
        xmls = [n.xml for n in notes]
        events = (
            (await session.execute(select(OutboxEvent).where(OutboxEvent.event == "FiscalDocumentChanged")))
            .scalars()
            .all()
        )
    assert any(b"<CodRef>1</CodRef>" in x for x in xmls if x) and any(
        b"<CodRef>3</CodRef>" in x for x in xmls if x
    )
    # Every document's way to acceptance was announced, last state last.
    last: dict[str, str] = {}
    for event in sorted(events, key=lambda e: e.id):
        last[event.payload["document_id"]] = event.payload["status"]
    assert len(last) == 17 and set(last.values()) == {"accepted"}


# fault -> (the simulator's settings, the counter that proves it fired)
FAULTS: dict[str, tuple[dict[str, Any], str]] = {
    "latency": ({"latency_ms": 5, "latency_jitter_ms": 20}, "fault_latency"),
    "timeouts": ({"timeout": {"probability": 0.3}, "hang_seconds": 3}, "fault_timeout"),
    "server errors": ({"server_error": {"probability": 0.4}}, "fault_server_error"),
    "html pages": ({"html": {"probability": 0.4}}, "fault_html"),
    "rate limits": ({"rate_limit": {"probability": 0.4}, "retry_after": "0"}, "fault_rate_limit"),
    "token expiry": ({"token_expiry": {"probability": 0.3}}, "fault_token_expiry"),
    "rejected folios": ({"reject_folios": {"39": [3, 77, 250, 499]}}, "documents_rejected"),
}


@pytest.mark.postgres
@pytest.mark.parametrize("fault", list(FAULTS))
async def test_500_boletas_reach_a_final_state_under_each_fault(
    fault: str,
    pg_db: Database,
    authority: DemoAuthority,
    simulator: Simulator,
    pipeline_for: Callable[..., ClPipeline],
) -> None:
    shop = await open_shop(pg_db, authority)
    await shop.sell(500)
    settings, fired = FAULTS[fault]
    await simulator.set_faults(**settings)
    statuses = await until_final(pipeline_for(shop), shop, limit=240)
    assert (await simulator.snapshot())["counters"].get(fired, 0) > 0, f"{fault} never happened"
    rejected = 4 if fault == "rejected folios" else 0
    assert statuses == {"accepted": 500 - rejected} | ({"rejected": rejected} if rejected else {})
    await simulator.set_faults()
    await assert_documents_are_what_was_sold(shop, simulator)
    if rejected:
        async with pg_db.tenant(shop.tenant_id) as session:
            reasons = (
                await session.execute(
                    select(FiscalDocument.folio, FiscalDocument.reason).where(
                        FiscalDocument.status == "rejected"
                    )
                )
            ).all()
        assert sorted(folio for folio, _ in reasons) == [3, 77, 250, 499]
        assert all("simulador" in reason for _, reason in reasons)


@pytest.mark.postgres
async def test_a_pipeline_killed_mid_upload_resumes_without_loss_or_double_content(
    pg_db: Database, authority: DemoAuthority, simulator: Simulator, pipeline_for: Callable[..., ClPipeline]
) -> None:
    from datetime import timedelta

    shop = await open_shop(pg_db, authority)
    await shop.sell(60)
    first = pipeline_for(shop, envelope_size=20, lease=timedelta(milliseconds=200))
    await first.assign_folios()
    while await first.sign_due():
        pass
    while await first.envelope_signed():
        pass
    # The upload hangs (SII took it but the answer never comes); the hub dies while it waits.
    await simulator.set_faults(latency_ms=5000, paths=["envio", "DTEUpload"])
    upload = asyncio.create_task(first.send_due())
    await asyncio.sleep(0.5)
    upload.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await upload
    await simulator.set_faults()
    # A new process: nothing in memory, everything from the database.
    second = pipeline_for(shop, envelope_size=20)
    statuses = await until_final(second, shop)
    assert statuses == {"accepted": 60}
    await assert_documents_are_what_was_sold(shop, simulator)


@pytest.mark.postgres
async def test_facturas_of_which_sii_rejected_one_all_end_final_through_query_est_dte(
    pg_db: Database, authority: DemoAuthority, simulator: Simulator, pipeline_for: Callable[..., ClPipeline]
) -> None:
    shop = await open_shop(pg_db, authority)
    await shop.sell(4, doc_type=33)
    await simulator.set_faults(reject_folios={"33": [2]})
    statuses = await until_final(pipeline_for(shop), shop)
    assert statuses == {"accepted": 3, "rejected": 1}
    await assert_documents_are_what_was_sold(shop, simulator)
    # One EnvioDTE: QueryEstUp said 4 informed, 3 accepted, 1 rejected, and no folio; QueryEstDte named it.
    snapshot = await simulator.snapshot()
    [envelope] = snapshot["envelopes"]
    assert [(d["folio"], d["state"]) for d in envelope["documents"]] == [(1, "DOK"), (2, "RCH"), (3, "DOK"),
                                                                          (4, "DOK")]  # fmt: skip
    assert snapshot["counters"]["document_queries"] == 4
    async with pg_db.tenant(shop.tenant_id) as session:
        documents = {d.folio: d for d in (await session.execute(select(FiscalDocument))).scalars()}
        [sent] = (await session.execute(select(FiscalEnvelope))).scalars().all()
        events = (
            (await session.execute(select(OutboxEvent).where(OutboxEvent.event == "FiscalDocumentChanged")))
            .scalars()
            .all()
        )
    rejected = documents.pop(2)
    assert (rejected.status, rejected.authority_state) == ("rejected", "FAU")
    assert "Folio rechazado por el simulador" in rejected.reason
    assert "counted 1 of the 4 documents of type 33" in rejected.reason
    assert {(d.status, d.authority_state, d.reason) for d in documents.values()} == {("accepted", "DOK", "")}
    assert (sent.status, sent.authority_state, sent.last_error) == ("done", "EPR", "")
    last: dict[str, str] = {}
    for event in sorted(events, key=lambda e: e.id):
        last[event.payload["document_id"]] = event.payload["status"]
    assert sorted(last.values()) == ["accepted", "accepted", "accepted", "rejected"]


@pytest.mark.postgres
async def test_a_document_query_that_fails_leaves_the_documents_sent_and_the_envelope_polled_again(
    pg_db: Database, authority: DemoAuthority, simulator: Simulator, pipeline_for: Callable[..., ClPipeline]
) -> None:
    shop = await open_shop(pg_db, authority)
    await shop.sell(3, doc_type=33)
    await simulator.set_faults(reject_folios={"33": [3]}, html={"next": 1}, paths=["QueryEstDte"])
    pipeline = pipeline_for(shop)
    async with asyncio.timeout(30):
        while not simulator.state.counters["fault_html"]:
            delay = await pipeline.run_once()
            await asyncio.sleep(min(delay if delay is not None else 0.01, 0.05))
    # SII's envelope answer was final but named no folio, and SII could not be asked: nothing is final.
    assert await shop.statuses() == {"sent": 3}
    async with pg_db.tenant(shop.tenant_id) as session:
        [envelope] = (await session.execute(select(FiscalEnvelope))).scalars().all()
        reasons = (await session.execute(select(FiscalDocument.reason))).scalars().all()
    assert (envelope.status, envelope.authority_state) == ("sent", "EPR")
    assert "HTML" in envelope.last_error and envelope.attempts >= 2  # the in-process poll, then this one
    assert all("without naming them" in r and "HTML" in r and "asking again" in r for r in reasons)
    assert await until_final(pipeline, shop) == {"accepted": 2, "rejected": 1}
    async with pg_db.tenant(shop.tenant_id) as session:
        [envelope] = (await session.execute(select(FiscalEnvelope))).scalars().all()
        rejected = (
            await session.execute(select(FiscalDocument.folio).where(FiscalDocument.status == "rejected"))
        ).scalar_one()
    assert (envelope.status, envelope.last_error, rejected) == ("done", "", 3)


@pytest.mark.postgres
async def test_signed_boletas_wait_their_linger_to_share_one_envelope_unless_it_is_full(
    pg_db: Database, authority: DemoAuthority, simulator: Simulator, pipeline_for: Callable[..., ClPipeline]
) -> None:
    shop = await open_shop(pg_db, authority)
    ahead = timedelta(0)
    pipeline = pipeline_for(
        shop, envelope_linger=timedelta(seconds=30), envelope_size=4, now=lambda: datetime.now(UTC) + ahead
    )

    async def envelopes() -> list[int]:
        async with pg_db.tenant(shop.tenant_id) as session:
            rows = await session.execute(select(FiscalEnvelope.documents).order_by(FiscalEnvelope.created_at))
            return list(rows.scalars())

    await shop.sell(2)
    delay = await pipeline.run_once()
    # Signed at once (a receipt waits for its stamp), but no envelope yet: the pipeline asks to be woken
    # when the oldest has waited its 30 s.
    assert await shop.statuses() == {"signed": 2}
    assert await envelopes() == []
    assert delay is not None and 25 < delay <= 30
    await shop.sell(3)
    await pipeline.run_once()
    # Five signed: a full envelope of four leaves at once, the fifth waits for company.
    assert await envelopes() == [4]
    assert await shop.statuses() == {"sent": 4, "signed": 1}
    ahead = timedelta(seconds=31)
    assert await until_final(pipeline, shop) == {"accepted": 5}
    assert await envelopes() == [4, 1]
    await assert_documents_are_what_was_sold(shop, simulator)


async def test_documents_wait_with_a_reason_until_the_setup_is_complete(
    sqlite_db: Database,
    authority: DemoAuthority,
    simulator: Simulator,
    pipeline_for: Callable[..., ClPipeline],
) -> None:
    shop = await open_shop(sqlite_db, authority, folios=2)
    await shop.sell(3)  # the third sale finds no folio left
    async with sqlite_db.tenant(shop.tenant_id) as session:
        docs = (
            (await session.execute(select(FiscalDocument).order_by(FiscalDocument.created_at)))
            .scalars()
            .all()
        )
        assert [d.folio for d in docs] == [1, 2, None]
        assert docs[2].reason == "no folios available for document type 39"
    pipeline = pipeline_for(shop)
    await until_final_or_stuck(pipeline)
    assert await shop.statuses() == {"accepted": 2, "pending": 1}
    # A new CAF arrives: the waiting document takes its first folio and goes through.
    caf = authority.issue_caf(COMPANY, "Minimarket Doña Rosa SpA", 39, 3, 10, date.today())
    await upload_caf(sqlite_db, shop.tenant_id, caf, authority_keys=authority.keys, key=KEY, user_id=None)
    assert await until_final(pipeline, shop) == {"accepted": 3}
    # The owner's dashboard heard it: no folios left (sales wait), then 7 left of the new CAF.
    async with sqlite_db.tenant(shop.tenant_id) as session:
        lows = (
            (await session.execute(select(OutboxEvent.payload).where(OutboxEvent.event == "FoliosLow")))
            .scalars()
            .all()
        )
    assert [(low["doc_type"], low["remaining"]) for low in lows] == [(39, 0), (39, 7)]


async def until_final_or_stuck(pipeline: ClPipeline) -> None:
    for _ in range(40):
        if await pipeline.run_once() is None:
            return
        await asyncio.sleep(0.05)


async def test_documents_wait_for_the_certificate_then_go_when_it_arrives(
    sqlite_db: Database,
    authority: DemoAuthority,
    simulator: Simulator,
    pipeline_for: Callable[..., ClPipeline],
) -> None:
    shop = await open_shop(sqlite_db, authority, certificate=False)
    await shop.sell(3)
    pipeline = pipeline_for(shop)
    assert await pipeline.run_once() is not None  # something falls due later: the setup is re-checked
    async with sqlite_db.tenant(shop.tenant_id) as session:
        waiting = (await session.execute(select(FiscalDocument))).scalars().all()
    assert {(d.status, d.reason[:25]) for d in waiting} == {("pending", "no signing certificate: t")}
    # Running again changes nothing and announces nothing new: they sleep until the setup changes.
    async with sqlite_db.tenant(shop.tenant_id) as session:
        before = (await session.execute(select(func.count()).select_from(OutboxEvent))).scalar_one()
    await pipeline.run_once()
    async with sqlite_db.tenant(shop.tenant_id) as session:
        after = (await session.execute(select(func.count()).select_from(OutboxEvent))).scalar_one()
    assert after == before
    pfx = make_test_certificate(SENDER, "Rosa Pérez", "clave")
    await upload_certificate(sqlite_db, shop.tenant_id, pfx, "clave", key=KEY, user_id=None)
    await retry_waiting(sqlite_db, shop.tenant_id)  # what the setup API does after an upload
    async with sqlite_db.tenant(shop.tenant_id) as session:  # ... and says so, for a worker to wake at once
        said = (
            await session.execute(select(OutboxEvent).where(OutboxEvent.event == "FiscalSetupChanged"))
        ).scalar_one()
    assert (said.stream, said.payload) == ("tenant", {"documents_due": 3})
    assert await until_final(pipeline, shop) == {"accepted": 3}
