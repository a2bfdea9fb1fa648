"""The event stream port: every committed outbox event, durably, partitioned by tenant.

The bus (``hub.events.bus``) is the live path to screens: fast, windowed, forgetful. The event stream is the
durable path to pipelines (fiscal, aggregates, webhooks): the outbox relay hands it every committed event at
least once, and ``send`` returns only when the stream has taken them (for Kafka: acknowledged by all in-sync
replicas). One tenant's events go to one partition, keyed by the tenant id, so a consumer sees them in write
order; consumers de-duplicate by ``event_id`` (the outbox row's UUIDv7, which also orders them).

``LocalEventStream`` is the embedded implementation and the reference for the contract tests;
``hub.events.kafka_stream.KafkaEventStream`` is the scaled one. Both place a tenant in the same partition
for the same partition count (Kafka's default partitioner: murmur2 of the key).
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

import msgspec

from schema.errors import UnavailableError


class EventRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # plain data, as StreamEvent
    """One committed event as the stream carries it (JSON on the wire)."""

    event_id: str  # the outbox row id (UUIDv7): unique, and time-ordered
    tenant_id: uuid.UUID
    stream: str  # the bus stream inside the tenant: "tenant", "register:<uuid>"...
    event: str
    payload: Any = None
    at: int = 0  # when it was written, epoch milliseconds (UTC)


class EventStreamError(UnavailableError):
    """The event stream did not take the events: none of them counts as sent."""

    code = "event_stream_unavailable"
    status = 503


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(EventRecord)


def encode_record(record: EventRecord) -> bytes:
    return _encoder.encode(record)


def decode_record(data: bytes | str) -> EventRecord:
    return _decoder.decode(data)


def outbox_record(
    tenant_id: uuid.UUID, event_id: uuid.UUID, stream: str, event: str, payload: Any
) -> EventRecord:
    """The record of an outbox row; ``at`` comes from the UUIDv7 itself, so both relay paths agree on it."""
    return EventRecord(
        event_id=str(event_id),
        tenant_id=tenant_id,
        stream=stream,
        event=event,
        payload=payload,
        at=event_id.int >> 80 if event_id.version == 7 else 0,
    )


def tenant_key(tenant_id: uuid.UUID) -> bytes:
    """The partitioning key of a tenant's events: the 16 bytes of its id."""
    return tenant_id.bytes


def partition_for(tenant_id: uuid.UUID, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for this tenant's key."""
    return (murmur2(tenant_key(tenant_id)) & 0x7FFFFFFF) % partitions


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (``org.apache.kafka.common.utils.Utils.murmur2``), as a signed 32-bit value."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    tail = length % 4
    if tail:
        rest = data[length - tail :]
        if tail == 3:
            h ^= rest[2] << 16
        if tail >= 2:
            h ^= rest[1] << 8
        h ^= rest[0]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


class EventStream(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, records: Sequence[EventRecord]) -> None:
        """Return once the stream durably took every record; raise :class:`EventStreamError` otherwise."""
        ...


class StoredRecord(NamedTuple):
    partition: int
    offset: int
    record: EventRecord


class _Partition:
    __slots__ = ("first", "records")

    def __init__(self, retention: int) -> None:
        self.first = 0  # offset of records[0]: offsets keep counting when old records fall out
        self.records: deque[EventRecord] = deque(maxlen=retention)


class LocalEventStream:
    """In-process stream: a bounded log per partition. ``available = False`` simulates an outage."""

    def __init__(self, *, partitions: int = 12, retention: int = 10_000) -> None:
        if partitions < 1 or retention < 1:
            raise ValueError("partitions and retention must be positive")
        self.partitions = partitions
        self.retention = retention
        self.available = True
        self._log = [_Partition(retention) for _ in range(partitions)]
        self._started = False

    async def start(self) -> None:
        self._started = True

    async def stop(self) -> None:
        self._started = False

    async def send(self, records: Sequence[EventRecord]) -> None:
        if not self._started or not self.available:
            raise EventStreamError("the local event stream is not running", records=len(records))
        for record in records:
            part = self._log[partition_for(record.tenant_id, self.partitions)]
            if len(part.records) == self.retention:
                part.first += 1
            part.records.append(record)

    def partition_of(self, tenant_id: uuid.UUID) -> int:
        return partition_for(tenant_id, self.partitions)

    def end_offset(self, partition: int) -> int:
        part = self._log[partition]
        return part.first + len(part.records)

    def read(self, partition: int, offset: int = 0, *, limit: int | None = None) -> list[StoredRecord]:
        """Records of ``partition`` from ``offset`` on (or from the oldest still kept), in order."""
        part = self._log[partition]
        start = max(offset, part.first) - part.first
        stop = len(part.records) if limit is None else min(len(part.records), start + limit)
        return [StoredRecord(partition, part.first + i, part.records[i]) for i in range(start, stop)]

    def read_all(self) -> list[StoredRecord]:
        """Every record kept, partition by partition, each partition in order."""
        return [stored for p in range(self.partitions) for stored in self.read(p)]
