"""The worker's dashboard aggregates: the hub's code over a Table-like mapping, one tenant apart from another,
counting each sale once however often its event comes, and exact again after a restart that lost writes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from sqlalchemy import select, update

from actors.checkout import receipt_of
from actors.dashboard_load import load_state
from actors.dashboard_view import snapshot
from hub.db import Database
from hub.events.stream import EventRecord
from hub.worker.dashboards import WorkerDashboards
from hub.worker.tenant_state import TenantState
from schema.models import Sale
from tests.support.tenants import TenantFixture, make_tenant


def test_a_tenant_state_sees_only_its_own_keys() -> None:
    table: dict[str, object] = {}
    a, b = TenantState(table, uuid.uuid4()), TenantState(table, uuid.uuid4())
    a["totals"] = {"count": 1}
    b["totals"] = {"count": 2}
    a["day"] = "2026-11-21"
    assert (dict(a), dict(b)) == ({"totals": {"count": 1}, "day": "2026-11-21"}, {"totals": {"count": 2}})
    a.replace({"day": "2026-11-22"})
    assert dict(a) == {"day": "2026-11-22"} and len(a) == 1
    assert dict(b) == {"totals": {"count": 2}}
    with pytest.raises(KeyError):
        a["__keys__"] = []  # the key list is the view's own, not a section


async def sale_event(db: Database, tenant: TenantFixture) -> EventRecord:
    """The ``SaleCompleted`` event of the tenant's sale, as the event stream carries it."""
    async with db.tenant(tenant.tenant_id) as session:
        sale = (await session.execute(select(Sale))).scalars().one()
        receipt = await receipt_of(session, sale)
    return EventRecord(
        event_id=str(uuid.uuid4()),
        tenant_id=tenant.tenant_id,
        stream="tenant",
        event="SaleCompleted",
        payload=msgspec.to_builtins(receipt),
    )


async def move_sales(db: Database, tenant: TenantFixture, when: datetime) -> None:
    async with db.tenant(tenant.tenant_id) as session:
        await session.execute(update(Sale).values(created_at=when))


async def test_events_count_once_and_a_restart_rebuilds_from_the_database(sqlite_db: Database) -> None:
    a, b = await make_tenant(sqlite_db), await make_tenant(sqlite_db)
    now = datetime.now(UTC)
    await move_sales(sqlite_db, a, now - timedelta(days=2))  # not yet today's when the worker first looks
    table: dict[str, object] = {}
    worker = WorkerDashboards(sqlite_db, table)
    assert worker.snapshot(a.tenant_id) is None  # nothing counted yet
    assert await worker.count(await sale_event(sqlite_db, a)) == set()  # a sale of two days ago: not today's
    assert worker.snapshot(a.tenant_id).totals.count == 0  # type: ignore[union-attr]

    await move_sales(sqlite_db, a, now)  # as if it committed after the rebuild: its event counts it
    event = await sale_event(sqlite_db, a)
    assert "totals" in await worker.count(event)
    for _ in range(2):  # delivered again (at least once): counted once
        assert await worker.count(event) == set()
    counted = worker.snapshot(a.tenant_id)
    assert counted is not None
    assert (counted.totals.count, counted.totals.sales_total) == (1, 1290)

    # The same figures as the hub's own rebuild, from the same code.
    rebuilt = snapshot(await load_state(sqlite_db, a.tenant_id, datetime.now(UTC), _offline))
    assert counted.totals == rebuilt.totals and counted.registers == rebuilt.registers

    # A restarted worker whose Table lost the last write (killed before its changelog was written) is
    # exact again: it rebuilds each tenant from the database the first time it sees it.
    TenantState(table, a.tenant_id)["totals"] = {**table[f"{a.tenant_id}/totals"], "count": 0}  # type: ignore[dict-item]
    restarted = WorkerDashboards(sqlite_db, table)
    assert await restarted.count(event) == set()
    assert restarted.snapshot(a.tenant_id).totals.count == 1  # type: ignore[union-attr]

    # Tenant b's figures are its own (make_tenant's sale, today).
    assert await restarted.count(await sale_event(sqlite_db, b)) == set()  # counted by b's rebuild
    assert restarted.snapshot(b.tenant_id).totals.count == 1  # type: ignore[union-attr]
    assert all(key.startswith((f"{a.tenant_id}/", f"{b.tenant_id}/")) for key in table)


async def test_events_of_other_streams_are_not_counted(sqlite_db: Database) -> None:
    a = await make_tenant(sqlite_db)
    event = msgspec.structs.replace(await sale_event(sqlite_db, a), stream=f"register:{a.register_id}")
    worker = WorkerDashboards(sqlite_db, {})
    assert await worker.count(event) == set()
    assert worker.counted == 0


async def _offline(_tenant_id: uuid.UUID, _device_id: uuid.UUID) -> None:
    return None
