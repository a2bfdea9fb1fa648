"""TenantActor: its cache comes from the database, survives restarts, and never runs ahead of a commit."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from actors.deps import ActorDeps
from actors.runtime import ActorSystem, Props
from actors.tenant import TenantActor, TenantCommand, tenant_address
from hub.admin import create_tenant
from hub.db import Database
from hub.events.bus import LocalBus
from hub.events.outbox import OutboxRelay, emit
from schema.errors import NotFoundError
from schema.messages.catalog import CATALOG_STREAM, LookupProduct, ProductChanged, SetPrice
from schema.models import Product, ProductBarcode


@pytest.fixture
async def system() -> AsyncIterator[ActorSystem]:
    actors = ActorSystem(idle_after=None)
    await actors.start()
    yield actors
    await actors.stop()


async def tenant_with_product(db: Database) -> tuple[uuid.UUID, uuid.UUID]:
    made = await create_tenant(
        db, slug=f"t-{uuid.uuid4().hex[:8]}", name="T", country="CL", tax_id="76086428-5"
    )
    product_id = uuid.uuid4()
    async with db.tenant(made.tenant_id) as session:
        session.add(
            Product(id=product_id, sku="P1", name="Pan", search_name="pan", price=100, tax_class="cl_iva")
        )
        await session.flush()
        session.add(ProductBarcode(barcode="7800000000016", product_id=product_id))
    return made.tenant_id, product_id


async def test_lookup_set_price_and_reload_after_restart(sqlite_db: Database, system: ActorSystem) -> None:
    tenant_id, product_id = await tenant_with_product(sqlite_db)
    deps = ActorDeps(db=sqlite_db, bus=LocalBus())
    props = Props(lambda: TenantActor(tenant_id, deps))
    ref = system.ref(tenant_address(tenant_id), props)
    found = await ref.ask(TenantCommand(LookupProduct(code="7800000000016"), None), timeout=5)
    assert found.id == product_id and found.price == 100
    assert (await ref.ask(TenantCommand(LookupProduct(code="P1"), None), timeout=5)).id == product_id
    with pytest.raises(NotFoundError):
        await ref.ask(TenantCommand(LookupProduct(code="0000"), None), timeout=5)
    await ref.ask(TenantCommand(SetPrice(product_id=product_id, price=150), None), timeout=5)
    await system.stop_actor(tenant_address(tenant_id))
    again = system.ref(tenant_address(tenant_id), props)  # a new incarnation reloads from the database
    assert (await again.ask(TenantCommand(LookupProduct(code="P1"), None), timeout=5)).price == 150


async def test_a_failed_write_leaves_the_cache_as_the_database(
    sqlite_db: Database, system: ActorSystem
) -> None:
    tenant_id, _ = await tenant_with_product(sqlite_db)
    deps = ActorDeps(db=sqlite_db, bus=LocalBus())
    ref = system.ref(tenant_address(tenant_id), Props(lambda: TenantActor(tenant_id, deps)))
    with pytest.raises(NotFoundError):
        await ref.ask(TenantCommand(SetPrice(product_id=uuid.uuid4(), price=1), None), timeout=5)
    assert (await ref.ask(TenantCommand(LookupProduct(code="P1"), None), timeout=5)).price == 100


async def test_changes_made_elsewhere_reach_the_cache_through_the_catalog_stream(
    sqlite_db: Database, system: ActorSystem
) -> None:
    tenant_id, product_id = await tenant_with_product(sqlite_db)
    bus = LocalBus()
    relay = OutboxRelay(sqlite_db, bus, sweep_seconds=30)
    sqlite_db.after_outbox_commit = relay.committed
    await relay.start()
    try:
        ref = system.ref(
            tenant_address(tenant_id), Props(lambda: TenantActor(tenant_id, ActorDeps(sqlite_db, bus)))
        )
        assert (await ref.ask(TenantCommand(LookupProduct(code="P1"), None), timeout=5)).price == 100
        async with sqlite_db.tenant(tenant_id) as session:  # as the REST API or another node would
            product = await session.get(Product, (tenant_id, product_id))
            assert product is not None
            product.price, product.sku = 120, "P2"
            emit(session, CATALOG_STREAM, "ProductChanged", ProductChanged(product_id=product_id))
        async with asyncio.timeout(10):
            while True:
                try:
                    view = await ref.ask(TenantCommand(LookupProduct(code="P2"), None), timeout=5)
                    break
                except NotFoundError:
                    await asyncio.sleep(0.01)
        assert view.price == 120
        with pytest.raises(NotFoundError):  # the old code is gone from the cache
            await ref.ask(TenantCommand(LookupProduct(code="P1"), None), timeout=5)
    finally:
        await relay.stop()
