"""A check shared by the Postgres and SQLite isolation suites: the cross-tenant fiscal sweep lookup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from hub.db import Database
from schema.models import FiscalDocument, FiscalEnvelope
from tests.support.tenants import TenantFixture


async def fiscal_work_is_found_per_tenant(db: Database, a: TenantFixture, b: TenantFixture) -> None:
    """Each tenant's document and envelope made due: found; then one tenant's settled: not found."""
    later = datetime.now(UTC) + timedelta(seconds=5)
    assert not {a.tenant_id, b.tenant_id} & set(await db.tenants_with_fiscal_work(later))  # final rows
    for tenant in (a, b):
        async with db.tenant(tenant.tenant_id) as session:
            await session.execute(update(FiscalDocument).values(status="pending"))
            await session.execute(update(FiscalEnvelope).values(status="sent"))
    assert {a.tenant_id, b.tenant_id} <= set(await db.tenants_with_fiscal_work(later))
    async with db.tenant(a.tenant_id) as session:
        await session.execute(update(FiscalDocument).values(status="accepted"))
        await session.execute(update(FiscalEnvelope).values(next_attempt_at=later + timedelta(hours=1)))
    due = set(await db.tenants_with_fiscal_work(later))
    assert a.tenant_id not in due and b.tenant_id in due
    assert a.tenant_id in set(await db.tenants_with_fiscal_work(later + timedelta(hours=2)))
