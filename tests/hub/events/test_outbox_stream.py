"""The outbox relay feeding the event stream: marked only when bus and stream took a row, in order per tenant,
at least once across a stream outage, a broker restart and a relay crash."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import select

from hub.db import Database
from hub.events.bus import LocalBus, StreamEvent
from hub.events.kafka_stream import KafkaEventStream
from hub.events.outbox import OutboxRelay, emit
from hub.events.stream import EventRecord, EventStream, LocalEventStream, decode_record
from schema.models import OutboxEvent
from tests.hub.events.test_outbox import new_tenant
from tests.support.kafka import Fetched, read_topic
from tests.support.tansu import Tansu, tansu_broker


async def write(db: Database, tenant_id: uuid.UUID, count: int, label: str = "") -> None:
    async with db.tenant(tenant_id) as session:
        for n in range(count):
            emit(session, "tenant", "Counted", {"n": n, "label": label})


async def rounds(db: Database, tenant_id: uuid.UUID, transactions: int, rows: int) -> None:
    """One tenant's transactions one after the other, as its actor commits them; tenants run side by side.

    (Concurrent transactions of one tenant take ids in one order and commit in another: "write order" is
    then not defined, and the direct path follows commit order.)
    """
    for n in range(transactions):
        await write(db, tenant_id, rows, f"transaction {n}")


async def written_ids(db: Database, tenant_id: uuid.UUID) -> list[str]:
    """The tenant's outbox rows in write order."""
    async with db.tenant(tenant_id) as session:
        rows = await session.execute(select(OutboxEvent.id).order_by(OutboxEvent.id))
        return [str(r) for r in rows.scalars()]


async def unpublished(db: Database, tenant_id: uuid.UUID) -> int:
    async with db.tenant(tenant_id) as session:
        query = select(OutboxEvent.id).where(OutboxEvent.published_at.is_(None))
        return len((await session.execute(query)).all())


async def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def wait_until_published(db: Database, tenants: Sequence[uuid.UUID], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while [await unpublished(db, t) for t in tenants] != [0] * len(tenants):
            await asyncio.sleep(0.05)


def first_seen(event_ids: Sequence[str]) -> list[str]:
    """The ids in the order of their first appearance: what an idempotent consumer acts on."""
    return list(dict.fromkeys(event_ids))


@contextlib.contextmanager
def wired(db: Database, relay: OutboxRelay) -> Iterator[None]:
    """As ``hub.services`` wires it: each commit hands its rows to the relay at once."""
    db.after_outbox_commit = relay.committed
    try:
        yield
    finally:
        db.after_outbox_commit = None


async def collect(bus: LocalBus, tenant_id: uuid.UUID) -> list[StreamEvent]:
    got: list[StreamEvent] = []
    await bus.subscribe(tenant_id, "tenant", got.append)
    return got


# --- the in-process stream -------------------------------------------------------------------------------


def stream_ids(stream: LocalEventStream, tenant_id: uuid.UUID) -> list[str]:
    return [
        s.record.event_id
        for s in stream.read(stream.partition_of(tenant_id))
        if s.record.tenant_id == tenant_id
    ]


async def test_every_committed_row_reaches_the_stream_once_in_order_per_tenant(db: Database) -> None:
    bus, stream = LocalBus(), LocalEventStream(partitions=4)
    tenants = [await new_tenant(db) for _ in range(3)]
    await write(db, tenants[0], 4, "left before start")  # as if the last process died before relaying them
    relay = OutboxRelay(db, bus, stream=stream, sweep_seconds=0.05)
    await stream.start()
    await relay.start()
    try:
        with wired(db, relay):
            await asyncio.gather(*(rounds(db, t, 6, 5) for t in tenants))
            relay.notify(tenants[1])  # a sweep racing the direct path must not duplicate anything
            await wait_until_published(db, tenants)
    finally:
        await relay.stop()
    for tenant in tenants:
        assert stream_ids(stream, tenant) == await written_ids(db, tenant)  # exactly once, in write order
    assert relay.failures == 0


@pytest.mark.parametrize("batch", [500, 3])  # 3: the sweep catches up in several rounds
async def test_a_stream_outage_keeps_rows_unpublished_then_delivers_them_in_order(
    db: Database, batch: int
) -> None:
    bus, stream = LocalBus(), LocalEventStream(partitions=4)
    tenant = await new_tenant(db)
    live = await collect(bus, tenant)
    relay = OutboxRelay(db, bus, stream=stream, sweep_seconds=0.05, batch=batch)
    await stream.start()
    await relay.start()
    try:
        with wired(db, relay):
            await write(db, tenant, 3, "before")
            await wait_until_published(db, [tenant])
            stream.available = False
            await write(db, tenant, 4, "during")
            await wait_for(lambda: relay.failures >= 2)  # the direct path and then the sweep were refused
            assert await unpublished(db, tenant) == 4
            assert [e.payload["label"] for e in live].count("during") == 4  # screens did not wait
            stream.available = True
            await write(db, tenant, 2, "after")  # must not overtake the rows the stream refused
            await wait_until_published(db, [tenant])
    finally:
        await relay.stop()
    ids = await written_ids(db, tenant)
    assert stream_ids(stream, tenant) == ids
    assert [e.event_id for e in live] == ids  # the bus got each row once: retries went to the stream only


class FailingBus(LocalBus):
    async def publish(self, *args: Any, **kwargs: Any) -> StreamEvent:
        raise ConnectionError("bus down")


async def test_a_row_is_not_marked_while_the_bus_refuses_it_even_if_the_stream_would_take_it(
    sqlite_db: Database,
) -> None:
    stream = LocalEventStream()
    tenant = await new_tenant(sqlite_db)
    relay = OutboxRelay(sqlite_db, FailingBus(), stream=stream, sweep_seconds=0.05)
    await stream.start()
    await relay.start()
    try:
        with wired(sqlite_db, relay):
            await write(sqlite_db, tenant, 2)
            await wait_for(lambda: relay.failures >= 2)
    finally:
        await relay.stop()
    assert await unpublished(sqlite_db, tenant) == 2
    assert stream.read_all() == []


# --- Kafka (Tansu) ---------------------------------------------------------------------------------------


def kafka_ids(fetched: Sequence[Fetched], tenant_id: uuid.UUID | None = None) -> list[str]:
    records = [decode_record(f.value) for f in fetched]
    return [r.event_id for r in records if tenant_id is None or r.tenant_id == tenant_id]


async def read_ids(bootstrap: str, topic: str, expected: set[str], timeout: float = 30.0) -> list[Fetched]:
    return await read_topic(
        bootstrap, topic, until=lambda got: expected <= set(kafka_ids(got)), timeout=timeout
    )


async def test_500_rows_of_5_tenants_reach_kafka_each_tenant_in_order(
    kafka_url: str, pg_db: Database
) -> None:
    topic = f"events-{secrets.token_hex(4)}"
    stream = KafkaEventStream(kafka_url, topic=topic, partitions=12)
    tenants = [await new_tenant(pg_db) for _ in range(5)]
    relay = OutboxRelay(pg_db, LocalBus(), stream=stream, sweep_seconds=30)
    await stream.start()
    await relay.start()
    try:
        with wired(pg_db, relay):
            await asyncio.gather(*(rounds(pg_db, t, 10, 10) for t in tenants))  # 50 transactions, interleaved
            await wait_until_published(pg_db, tenants)
    finally:
        await relay.stop()
        await stream.stop()
    expected = {t: await written_ids(pg_db, t) for t in tenants}
    assert sum(len(ids) for ids in expected.values()) == 500
    fetched = await read_ids(kafka_url, topic, {i for ids in expected.values() for i in ids})
    for tenant in tenants:
        assert kafka_ids(fetched, tenant) == expected[tenant]  # in order, and exactly once on this path
        assert len({f.partition for f in fetched if decode_record(f.value).tenant_id == tenant}) == 1


@pytest.fixture(params=["freeze", "restart"])
def outage(request: pytest.FixtureRequest) -> Iterator[tuple[Tansu, Callable[[], None], Callable[[], None]]]:
    """A broker and how it goes away and comes back.

    ``freeze``: memory storage, the process stopped (SIGSTOP) and resumed: a broker that hangs. ``restart``:
    the broker process stopped and started again on the same port, on storage that outlives it (S3; Tansu's
    Postgres engine is not in the bundled build).
    """
    with contextlib.ExitStack() as stack:
        if request.param == "freeze":
            broker = stack.enter_context(tansu_broker("memory"))
            yield broker, broker.freeze, broker.thaw
            return
        broker = stack.enter_context(tansu_broker("s3"))  # moto[server] is a dev dependency
        yield broker, broker.stop, broker.start


@pytest.mark.kafka
async def test_rows_committed_while_kafka_is_away_stay_unpublished_then_arrive(
    outage: tuple[Tansu, Callable[[], None], Callable[[], None]], pg_db: Database
) -> None:
    broker, away, back = outage
    topic = f"events-{secrets.token_hex(4)}"
    stream = KafkaEventStream(broker.bootstrap, topic=topic, partitions=6, timeout=1.0)
    bus = LocalBus()
    tenants = [await new_tenant(pg_db) for _ in range(2)]
    live = {t: await collect(bus, t) for t in tenants}
    relay = OutboxRelay(pg_db, bus, stream=stream, sweep_seconds=0.2)
    await stream.start()
    await relay.start()
    try:
        with wired(pg_db, relay):
            for t in tenants:
                await write(pg_db, t, 3, "before")
            await wait_until_published(pg_db, tenants)
            away()
            for t in tenants:
                await write(pg_db, t, 5, "during")
            await wait_for(lambda: relay.failures >= 2)
            assert [await unpublished(pg_db, t) for t in tenants] == [5, 5]
            for t in tenants:  # the screens got them at once, and once only
                assert [e.payload["label"] for e in live[t]] == ["before"] * 3 + ["during"] * 5
            back()
            for t in tenants:
                await write(pg_db, t, 2, "after")
            await wait_until_published(pg_db, tenants)
    finally:
        await relay.stop()
        await stream.stop()
    expected = {t: await written_ids(pg_db, t) for t in tenants}
    fetched = await read_ids(broker.bootstrap, topic, {i for ids in expected.values() for i in ids})
    for t in tenants:
        assert (
            first_seen(kafka_ids(fetched, t)) == expected[t]
        )  # late batches may add duplicates, not disorder
        assert [e.event_id for e in live[t]] == expected[t]


class DiesAfterSending:
    """The stream a relay process sees just before it is killed: Kafka has the batch, the mark never runs."""

    def __init__(self, inner: EventStream) -> None:
        self.inner = inner
        self.sent: list[EventRecord] = []
        self.died = asyncio.Event()

    async def start(self) -> None:
        await self.inner.start()

    async def stop(self) -> None:
        await self.inner.stop()

    async def send(self, records: Sequence[EventRecord]) -> None:
        await self.inner.send(records)
        self.sent += records
        self.died.set()
        await asyncio.Event().wait()  # "killed" here: the test cancels the relay's task


async def test_a_relay_crash_after_sending_loses_nothing(kafka_url: str, pg_db: Database) -> None:
    topic = f"events-{secrets.token_hex(4)}"
    stream = KafkaEventStream(kafka_url, topic=topic, partitions=6)
    dying = DiesAfterSending(stream)
    tenants = [await new_tenant(pg_db) for _ in range(3)]
    crashing = OutboxRelay(pg_db, LocalBus(), stream=dying, sweep_seconds=30)
    await stream.start()
    await crashing.start()
    with wired(pg_db, crashing):
        for t in tenants:
            await write(pg_db, t, 4, "first")
        async with asyncio.timeout(10):
            await dying.died.wait()
    assert crashing._task is not None
    crashing._task.cancel()  # no grace, no mark: a kill -9 between Kafka's ack and the UPDATE
    await asyncio.gather(crashing._task, return_exceptions=True)
    assert dying.sent, "the crashing relay must have sent a batch before dying"
    assert sum([await unpublished(pg_db, t) for t in tenants]) == 12

    survivor = OutboxRelay(pg_db, LocalBus(), stream=stream, sweep_seconds=30)
    await survivor.start()  # its start-up sweep finds the unmarked rows
    try:
        with wired(pg_db, survivor):
            for t in tenants:
                await write(pg_db, t, 2, "second")
            await wait_until_published(pg_db, tenants)
    finally:
        await survivor.stop()
        await stream.stop()
    committed = {i for t in tenants for i in await written_ids(pg_db, t)}
    fetched = await read_ids(kafka_url, topic, committed)
    ids = kafka_ids(fetched)
    assert set(ids) >= committed  # nothing lost
    assert len(ids) > len(set(ids))  # and the crash did make duplicates, which consumers drop by event_id
    for t in tenants:
        assert first_seen(kafka_ids(fetched, t)) == await written_ids(pg_db, t)
