"""The restaurant tables' own guarantees, on both backends: one open tab per table (a partial unique index,
so closed tabs do not count), active table names unique per store, and the CHECKs on tabs and items."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from hub.db import Database
from schema.models import FloorArea, FloorTable, Tab, TabItem
from schema.models.base import new_id
from tests.support.tenants import TenantFixture, make_tenant


async def test_one_open_tab_per_table_and_unique_active_names(sqlite_db: Database) -> None:
    await _check(sqlite_db)


@pytest.mark.postgres
async def test_one_open_tab_per_table_and_unique_active_names_on_postgres(pg_db: Database) -> None:
    await _check(pg_db)


async def _check(db: Database) -> None:
    tenant = await make_tenant(db)
    area = await _area(db, tenant)
    async with db.tenant(tenant.tenant_id) as session:
        table = FloorTable(store_id=tenant.store_id, area_id=area, name="Z1")
        session.add(table)
    # Two open tabs on one table: the second is refused; closed ones never count.
    async with db.tenant(tenant.tenant_id) as session:
        session.add(Tab(store_id=tenant.store_id, table_id=table.id, number=100, guests=1))
    with pytest.raises(IntegrityError):
        async with db.tenant(tenant.tenant_id) as session:
            session.add(Tab(store_id=tenant.store_id, table_id=table.id, number=101, guests=1))
    async with db.tenant(tenant.tenant_id) as session:
        session.add(Tab(store_id=tenant.store_id, table_id=table.id, number=102, guests=1, status="closed"))
        session.add(Tab(store_id=tenant.store_id, table_id=table.id, number=103, guests=1, status="merged"))
    # An active name is unique in its store; a deactivated table frees it.
    with pytest.raises(IntegrityError):
        async with db.tenant(tenant.tenant_id) as session:
            session.add(FloorTable(store_id=tenant.store_id, area_id=area, name="Z1"))
    async with db.tenant(tenant.tenant_id) as session:
        await session.execute(update(FloorTable).where(FloorTable.id == table.id).values(active=False))
        session.add(FloorTable(store_id=tenant.store_id, area_id=area, name="Z1"))
    # CHECKs: guests, status, an item's quantity, price and course.
    for bad in (
        Tab(store_id=tenant.store_id, table_id=table.id, number=104, guests=0, status="closed"),
        Tab(store_id=tenant.store_id, table_id=table.id, number=105, guests=1, status="paid"),
    ):
        with pytest.raises(IntegrityError):
            async with db.tenant(tenant.tenant_id) as session:
                session.add(bad)
    tab_id = new_id()
    async with db.tenant(tenant.tenant_id) as session:
        session.add(Tab(id=tab_id, store_id=tenant.store_id, table_id=table.id, number=106, status="closed"))
    for fields in ({"quantity": 0}, {"unit_price": -1}, {"course": 6}):
        item = {
            "n": 1,
            "product_id": tenant.product_id,
            "name": "X",
            "unit_price": 100,
            "quantity": 1000,
        } | fields
        with pytest.raises(IntegrityError):
            async with db.tenant(tenant.tenant_id) as session:
                session.add(TabItem(tab_id=tab_id, **item))


async def _area(db: Database, tenant: TenantFixture) -> uuid.UUID:
    async with db.tenant(tenant.tenant_id) as session:
        return (await session.execute(select(FloorArea.id))).scalar_one()
