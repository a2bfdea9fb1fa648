"""The tenant's selling rules: loaded by the TenantActor with the catalog, handed to registers through the
CatalogRef, and reloaded when ``TenantSettingsChanged`` (or anything it cannot read) arrives on the catalog
stream."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from actors.catalog_ref import CatalogRef, SellingRules, StaleCatalogError
from actors.deps import ActorDeps
from actors.runtime import ActorSystem, Props
from actors.sales.catalog_index import CatalogIndex
from actors.sales.errors import InvalidScaleRulesError
from actors.sales.scale_barcodes import DEFAULT_RULES, ScaleBarcodeRules
from actors.tenant import GetCatalog, TenantActor, selling_rules, tenant_address
from hub.admin import create_tenant
from hub.db import Database
from hub.events.bus import LocalBus, StreamEvent
from hub.events.outbox import OutboxRelay, emit
from schema.messages.catalog import CATALOG_STREAM, TenantSettingsChanged
from schema.models import Tenant


@pytest.fixture
async def system() -> AsyncIterator[ActorSystem]:
    actors = ActorSystem(idle_after=None)
    await actors.start()
    yield actors
    await actors.stop()


async def new_tenant(db: Database) -> uuid.UUID:
    made = await create_tenant(
        db, slug=f"t-{uuid.uuid4().hex[:8]}", name="T", country="CL", tax_id="76086428-5"
    )
    return made.tenant_id


def test_defaults() -> None:
    rules = SellingRules()
    assert rules == SellingRules(False, DEFAULT_RULES, 10)
    ref = CatalogRef(CatalogIndex())
    assert ref.rules() == rules
    ref.replace_rules(SellingRules(max_cashier_discount=3))
    assert ref.rules().max_cashier_discount == 3
    ref.stale = True
    with pytest.raises(StaleCatalogError):
        ref.rules()


def test_rules_from_the_tenant_row() -> None:
    tenant = Tenant(
        stock_policy="block", scale_prefixes={"25": "weight", "29": "price"}, max_cashier_discount=0
    )
    rules = selling_rules(tenant)
    assert rules.block_negative_stock is True and rules.max_cashier_discount == 0
    assert dict(rules.scale.prefixes) == {"25": "weight", "29": "price"}
    tenant.stock_policy = "allow"
    assert selling_rules(tenant).block_negative_stock is False
    tenant.scale_prefixes = {"19": "weight"}  # never written by the API; a row like it fails loudly
    with pytest.raises(InvalidScaleRulesError):
        selling_rules(tenant)


async def test_the_tenant_actor_loads_and_reloads_the_rules(sqlite_db: Database, system: ActorSystem) -> None:
    tenant_id = await new_tenant(sqlite_db)
    async with sqlite_db.tenant(tenant_id) as session:
        tenant = await session.get(Tenant, tenant_id)
        assert tenant is not None
        tenant.stock_policy = "block"
    bus = LocalBus()
    relay = OutboxRelay(sqlite_db, bus, sweep_seconds=30)
    sqlite_db.after_outbox_commit = relay.committed
    await relay.start()
    try:
        ref = system.ref(
            tenant_address(tenant_id), Props(lambda: TenantActor(tenant_id, ActorDeps(sqlite_db, bus)))
        )
        catalog: CatalogRef = await ref.ask(GetCatalog(), timeout=5)
        assert catalog.rules() == SellingRules(block_negative_stock=True)

        async def change(max_discount: int, event: str, payload: object) -> None:
            published = asyncio.Event()

            def listener(e: StreamEvent) -> None:
                if e.event == event:
                    published.set()

            feed = await bus.subscribe(tenant_id, CATALOG_STREAM, listener)
            async with sqlite_db.tenant(tenant_id) as session:  # as the REST API would
                tenant = await session.get(Tenant, tenant_id)
                assert tenant is not None
                tenant.scale_prefixes = {"25": "weight"}
                tenant.max_cashier_discount = max_discount
                emit(session, CATALOG_STREAM, event, payload)
            async with asyncio.timeout(10):
                await published.wait()
            feed.subscription.close()
            await ref.ask(GetCatalog(), timeout=5)  # answered after the reload it queued

        settings = TenantSettingsChanged(
            stock_policy="block", scale_prefixes={"25": "weight"}, max_cashier_discount=4
        )
        await change(4, "TenantSettingsChanged", settings)
        assert catalog.rules() == SellingRules(True, ScaleBarcodeRules({"25": "weight"}), 4)
        # An event it cannot read marks the cache stale: everything, rules included, is reloaded first.
        await change(2, "SomethingNew", {"what": "ever"})
        assert catalog.rules().max_cashier_discount == 2
    finally:
        await relay.stop()
