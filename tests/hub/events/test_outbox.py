"""The outbox: events leave only after commit, in order, at least once; nothing is lost across a crash."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.admin import create_tenant
from hub.db import Database
from hub.events.bus import LocalBus, StreamEvent
from hub.events.outbox import OutboxRelay, emit
from schema.models import OutboxEvent


async def new_tenant(db: Database) -> uuid.UUID:
    made = await create_tenant(
        db, slug=f"t-{uuid.uuid4().hex[:10]}", name="T", country="CL", tax_id="76086428-5"
    )
    return made.tenant_id


async def write_events(db: Database, tenant_id: uuid.UUID, count: int, *, fail: bool = False) -> None:
    async with db.tenant(tenant_id) as session:
        for n in range(count):
            emit(session, "tenant", "Counted", {"n": n})
        if fail:
            raise RuntimeError("the change failed after emitting")


async def unpublished(db: Database, tenant_id: uuid.UUID) -> int:
    async with db.tenant(tenant_id) as session:
        query = select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None))
        return int((await session.execute(query)).scalar_one())


async def collect(bus: LocalBus, tenant_id: uuid.UUID) -> list[StreamEvent]:
    got: list[StreamEvent] = []
    await bus.subscribe(tenant_id, "tenant", got.append)
    return got


async def wait_for(condition: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_committed_events_are_published_in_order_and_marked(db: Database) -> None:
    bus, tenant_id = LocalBus(), await new_tenant(db)
    got = await collect(bus, tenant_id)
    relay = OutboxRelay(db, bus, sweep_seconds=30)
    await relay.start()
    try:
        await write_events(db, tenant_id, 5)
        relay.notify(tenant_id)
        await wait_for(lambda: len(got) == 5)
    finally:
        await relay.stop()
    assert [e.payload["n"] for e in got] == [0, 1, 2, 3, 4]
    assert [e.seq for e in got] == [1, 2, 3, 4, 5]
    assert len({e.event_id for e in got}) == 5
    assert await unpublished(db, tenant_id) == 0


async def test_a_rolled_back_change_publishes_nothing(db: Database) -> None:
    tenant_id = await new_tenant(db)
    with pytest.raises(RuntimeError):
        await write_events(db, tenant_id, 3, fail=True)
    assert await unpublished(db, tenant_id) == 0


async def test_events_left_by_a_crash_are_published_when_the_relay_starts(db: Database) -> None:
    bus, tenant_id = LocalBus(), await new_tenant(db)
    await write_events(db, tenant_id, 3)  # committed, but no relay was running: as if we crashed
    got = await collect(bus, tenant_id)
    relay = OutboxRelay(db, bus, sweep_seconds=30)
    await relay.start()
    try:
        await wait_for(lambda: len(got) == 3)
    finally:
        await relay.stop()
    assert await unpublished(db, tenant_id) == 0


async def test_events_committed_by_another_process_are_found_by_the_sweep(db: Database) -> None:
    bus, tenant_id = LocalBus(), await new_tenant(db)
    got = await collect(bus, tenant_id)
    relay = OutboxRelay(db, bus, sweep_seconds=0.05)
    await relay.start()
    try:
        await write_events(db, tenant_id, 2)  # nobody calls notify
        await wait_for(lambda: len(got) == 2)
    finally:
        await relay.stop()


class FlakyBus(LocalBus):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def publish(self, *args: Any, **kwargs: Any) -> StreamEvent:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("bus down")
        return await super().publish(*args, **kwargs)


async def test_a_failed_publish_keeps_the_events_and_retries(db: Database) -> None:
    bus, tenant_id = FlakyBus(failures=2), await new_tenant(db)
    got = await collect(bus, tenant_id)
    relay = OutboxRelay(db, bus, sweep_seconds=0.05)
    await relay.start()
    try:
        await write_events(db, tenant_id, 3)
        relay.notify(tenant_id)
        await wait_for(lambda: len({e.event_id for e in got}) == 3)
    finally:
        await relay.stop()
    assert relay.failures >= 2
    assert await unpublished(db, tenant_id) == 0
    assert sorted({e.payload["n"] for e in got}) == [0, 1, 2]


@pytest.mark.postgres
async def test_two_relays_never_publish_an_event_twice(pg_db: Database) -> None:
    bus, tenant_id = LocalBus(), await new_tenant(pg_db)
    got = await collect(bus, tenant_id)
    relays = [OutboxRelay(pg_db, bus, sweep_seconds=0.02, batch=7) for _ in range(2)]
    for relay in relays:
        await relay.start()
    try:
        for _ in range(10):
            await write_events(pg_db, tenant_id, 10)
            for relay in relays:
                relay.notify(tenant_id)
        await wait_for(lambda: len(got) >= 100)
        await asyncio.sleep(0)  # let a duplicate, if any, land before counting
    finally:
        for relay in relays:
            await relay.stop()
    assert len(got) == 100 and len({e.event_id for e in got}) == 100
    assert relays[0].relayed + relays[1].relayed == 100


async def test_a_commit_publishes_its_events_before_the_transaction_block_returns(db: Database) -> None:
    """Wired as in the hub: no query, no relay wake-up between the commit and the listeners."""
    bus, tenant_id = LocalBus(), await new_tenant(db)
    got = await collect(bus, tenant_id)
    relay = OutboxRelay(db, bus, sweep_seconds=30)
    db.after_outbox_commit = relay.committed
    await relay.start()
    try:
        await write_events(db, tenant_id, 3)
        assert [e.payload["n"] for e in got] == [0, 1, 2]  # already there: no waiting
        await wait_for(lambda: relay.relayed == 3)  # the relay's task marks them a moment later
        assert await unpublished(db, tenant_id) == 0
        relay.notify(tenant_id)  # a sweep now finds nothing to publish again
        await write_events(db, tenant_id, 1)
        await wait_for(lambda: relay.relayed == 4)
    finally:
        await relay.stop()
        db.after_outbox_commit = None
    assert [e.payload["n"] for e in got] == [0, 1, 2, 0]
    assert len({e.event_id for e in got}) == 4


async def test_a_rolled_back_change_publishes_nothing_at_commit_either(db: Database) -> None:
    bus, tenant_id = LocalBus(), await new_tenant(db)
    got = await collect(bus, tenant_id)
    relay = OutboxRelay(db, bus, sweep_seconds=30)
    db.after_outbox_commit = relay.committed
    try:
        with pytest.raises(RuntimeError):
            await write_events(db, tenant_id, 3, fail=True)
    finally:
        db.after_outbox_commit = None
    assert got == []


async def test_a_publish_failing_at_commit_leaves_the_events_to_the_relay(db: Database) -> None:
    bus, tenant_id = FlakyBus(failures=1), await new_tenant(db)
    got = await collect(bus, tenant_id)
    relay = OutboxRelay(db, bus, sweep_seconds=0.05)
    db.after_outbox_commit = relay.committed
    await relay.start()
    try:
        await write_events(db, tenant_id, 2)  # the commit stands although the bus refused
        await wait_for(lambda: sorted({e.payload["n"] for e in got}) == [0, 1])
        await wait_for(lambda: relay.relayed >= 2)
    finally:
        await relay.stop()
        db.after_outbox_commit = None
    assert await unpublished(db, tenant_id) == 0
    assert relay.failures == 0  # the relay itself never failed: it only picked up what was left
