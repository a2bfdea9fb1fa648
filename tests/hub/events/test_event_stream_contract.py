"""The event stream contract, run against every implementation: in-process, and Kafka (a Tansu broker)."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiokafka.partitioner import murmur2 as kafka_murmur2

from hub.events.kafka_stream import KafkaEventStream
from hub.events.stream import (
    EventRecord,
    EventStream,
    EventStreamError,
    LocalEventStream,
    decode_record,
    encode_record,
    murmur2,
    outbox_record,
    partition_for,
    tenant_key,
)
from schema.errors import StorehubError
from schema.ids import uuid7
from tests.support.kafka import read_topic
from tests.support.procs import free_port
from tests.support.tansu import tansu_broker

PARTITIONS = 6


@dataclass
class Harness:
    stream: EventStream
    read: Callable[
        [int], Awaitable[list[tuple[int, EventRecord]]]
    ]  # (partition, record), each partition in order
    break_backend: Callable[[], None]
    repair_backend: Callable[[], None]


async def local_harness() -> AsyncIterator[Harness]:
    stream = LocalEventStream(partitions=PARTITIONS)

    async def read(expected: int) -> list[tuple[int, EventRecord]]:
        return [(s.partition, s.record) for s in stream.read_all()]

    def set_available(flag: bool) -> Callable[[], None]:
        return lambda: setattr(stream, "available", flag)

    await stream.start()
    yield Harness(stream, read, set_available(False), set_available(True))
    await stream.stop()


async def kafka_harness() -> AsyncIterator[Harness]:
    # A broker of its own: the failure test freezes it (Tansu starts in milliseconds).
    with tansu_broker("memory") as broker:
        topic = f"events-{secrets.token_hex(4)}"
        stream = KafkaEventStream(broker.bootstrap, topic=topic, partitions=PARTITIONS, timeout=2.0)

        async def read(expected: int) -> list[tuple[int, EventRecord]]:
            got = await read_topic(broker.bootstrap, topic, until=lambda got: len(got) >= expected)
            for fetched in got:
                assert fetched.key == tenant_key(decode_record(fetched.value).tenant_id)
            return [(f.partition, decode_record(f.value)) for f in got]

        await stream.start()
        yield Harness(stream, read, broker.freeze, broker.thaw)
        await stream.stop()


HARNESSES = {"local": local_harness, "kafka": kafka_harness}


@pytest.fixture(params=["local", pytest.param("kafka", marks=pytest.mark.kafka)])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    async for made in HARNESSES[request.param]():
        yield made


def records(tenant: uuid.UUID, count: int, *, label: str = "") -> list[EventRecord]:
    return [
        outbox_record(tenant, uuid7(), "tenant", "Counted", {"n": n, "label": label}) for n in range(count)
    ]


async def test_a_tenants_records_are_read_back_in_send_order(harness: Harness) -> None:
    tenants = [uuid.uuid4() for _ in range(4)]
    sent: dict[uuid.UUID, list[str]] = {t: [] for t in tenants}
    for round_ in range(5):  # several sends, tenants interleaved inside each
        batch = [
            r
            for group in zip(*(records(t, 7, label=str(round_)) for t in tenants), strict=True)
            for r in group
        ]
        await harness.stream.send(batch)
        for record in batch:
            sent[record.tenant_id].append(record.event_id)
    got = await harness.read(4 * 35)
    assert len(got) == 4 * 35
    for tenant in tenants:
        assert [r.event_id for _, r in got if r.tenant_id == tenant] == sent[tenant]


async def test_each_tenant_always_lands_in_the_same_partition_as_kafka_places_it(harness: Harness) -> None:
    tenants = [uuid.uuid4() for _ in range(24)]
    for _ in range(3):
        await harness.stream.send([r for t in tenants for r in records(t, 2)])
    got = await harness.read(24 * 6)
    partitions: dict[uuid.UUID, set[int]] = {}
    for partition, record in got:
        partitions.setdefault(record.tenant_id, set()).add(partition)
    assert partitions == {t: {partition_for(t, PARTITIONS)} for t in tenants}
    assert len({p for ps in partitions.values() for p in ps}) > 1  # 24 tenants do not all hash alike


async def test_records_survive_the_round_trip_unchanged(harness: Harness) -> None:
    tenant = uuid.uuid4()
    record = outbox_record(
        tenant, uuid7(), "register:x", "SaleCommitted", {"total": 1190, "lines": [{"q": 2}]}
    )
    await harness.stream.send([record])
    await harness.stream.send([])  # nothing to send is not an error
    assert [r for _, r in await harness.read(1)] == [record]


async def test_a_failing_backend_makes_send_raise_the_typed_error_and_recovers(harness: Harness) -> None:
    tenant = uuid.uuid4()
    first = records(tenant, 3, label="first")
    await harness.stream.send(first)
    harness.break_backend()
    with pytest.raises(EventStreamError) as caught:
        await harness.stream.send(records(tenant, 3, label="lost"))
    assert isinstance(caught.value, StorehubError)
    assert caught.value.code == "event_stream_unavailable"
    harness.repair_backend()
    after = records(tenant, 2, label="after")
    await harness.stream.send(after)  # the same stream object works again: no restart of the hub needed
    got = [r for _, r in await harness.read(2)]
    assert [r.event_id for r in got if r.payload["label"] == "after"] == [r.event_id for r in after]


@pytest.mark.kafka
async def test_a_stopped_broker_makes_send_raise_within_the_timeout() -> None:
    with tansu_broker("memory") as broker:
        stream = KafkaEventStream(broker.bootstrap, topic="events", partitions=PARTITIONS, timeout=1.0)
        await stream.start()
        try:
            await stream.send(records(uuid.uuid4(), 2))
            broker.stop()
            started = asyncio.get_running_loop().time()
            with pytest.raises(EventStreamError):
                await stream.send(records(uuid.uuid4(), 2))
            assert asyncio.get_running_loop().time() - started < 3.0
            assert stream.sent == 2  # the failed batch is not counted as sent
        finally:
            await stream.stop()


async def test_a_stream_that_is_not_started_refuses_to_send() -> None:
    for stream in (LocalEventStream(), KafkaEventStream("127.0.0.1:9")):
        with pytest.raises(EventStreamError):
            await stream.send(records(uuid.uuid4(), 1))


async def test_starting_against_no_broker_raises_the_typed_error() -> None:
    stream = KafkaEventStream(f"127.0.0.1:{free_port()}", timeout=1.0)
    with pytest.raises(EventStreamError):
        await stream.start()


def test_partitioning_is_kafkas_murmur2_and_records_encode_as_json() -> None:
    for n in range(64):
        data = secrets.token_bytes(n)
        assert murmur2(data) & 0xFFFFFFFF == kafka_murmur2(data) & 0xFFFFFFFF
    event_id = uuid7()
    record = outbox_record(uuid.uuid4(), event_id, "tenant", "E", {"a": 1})
    assert abs(record.at - int(uuid7().int >> 80)) < 60_000  # epoch ms, from the UUIDv7
    assert decode_record(encode_record(record)) == record
    assert encode_record(record).startswith(b'{"event_id":')
