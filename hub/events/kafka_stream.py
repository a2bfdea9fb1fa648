"""The event stream on Kafka: one topic, keyed by tenant, acknowledged by all in-sync replicas.

``send`` hands the whole batch to aiokafka's producer, which groups it per partition into few requests
(no ``linger_ms`` by default: the relay already hands whole batches, and 5 ms of linger cost every small
send 5 ms and gained nothing at 1,000 records). It returns when every record is acknowledged with
``acks="all"``; any failure or the ``timeout`` makes it raise
:class:`~hub.events.stream.EventStreamError` and the caller treats the whole batch as not sent (some
records may have landed: at least once, consumers de-duplicate by ``event_id``). The key is the tenant
id's 16 bytes and the producer's default partitioner (murmur2) picks the partition, so a tenant's events
stay in one partition, in send order: aiokafka keeps at most one batch in flight per partition, so a
retried batch never overtakes the next one.

No idempotent producer (``enable_idempotence``): Tansu, the broker of the tests, refuses InitProducerId,
and the consumers de-duplicate anyway. The topic is created at start when missing (CreateTopics), with
``partitions`` partitions; a topic that exists keeps its own partition count (a warning says so). After a
failed send the next one first checks the topic again (and refreshes the producer's metadata): a broker
that came back without it (Tansu in memory, an operator's mistake) gets it back with the right partition
count, instead of the producer's auto-creation with the broker's default, or, on Tansu, acknowledged
writes to a topic that no longer exists, which vanish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError  # type: ignore[import-untyped]

from hub.events.stream import EventRecord, EventStreamError, encode_record, tenant_key

log = logging.getLogger("hub.events.kafka")

_TOPIC_ALREADY_EXISTS = 36
# The event stream's topic and partition count: the relays write it, ``storehub worker`` reads it.
TOPIC = "storehub.events"
PARTITIONS = 12


class KafkaEventStream:
    def __init__(
        self,
        bootstrap: str,
        *,
        topic: str = TOPIC,
        partitions: int = PARTITIONS,
        replication: int = 1,
        timeout: float = 10.0,
        linger_ms: int = 0,
        max_batch_bytes: int = 256 * 1024,
        client_id: str = "storehub-outbox",
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = partitions
        self.replication = replication
        self.timeout = timeout
        self.linger_ms = linger_ms
        self.max_batch_bytes = max_batch_bytes
        self.client_id = client_id
        self._producer: AIOKafkaProducer | None = None
        self._check_topic = False  # set by a failed send: the broker may have come back without the topic
        self.sent = 0

    async def start(self) -> None:
        """Connect and make sure the topic exists; raises :class:`EventStreamError` when Kafka is away."""
        if self._producer is not None:
            return
        try:
            async with asyncio.timeout(self.timeout):
                # Before the producer: its first metadata request would auto-create the topic with the
                # broker's default partition count.
                await self._ensure_topic()
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap,
                    client_id=self.client_id,
                    acks="all",
                    enable_idempotence=False,
                    linger_ms=self.linger_ms,
                    max_batch_size=self.max_batch_bytes,
                    request_timeout_ms=int(self.timeout * 1000),
                )
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
        except (KafkaError, OSError, TimeoutError) as exc:
            raise EventStreamError(f"Kafka at {self.bootstrap} is not reachable: {exc!r}") from exc
        self._producer = producer

    async def _ensure_topic(self) -> None:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            request_timeout_ms=int(self.timeout * 1000),
        )
        await admin.start()
        try:
            if self.topic in await admin.list_topics():
                found = await admin.describe_topics([self.topic])
                count = len(found[0]["partitions"]) if found else 0
                if count != self.partitions:
                    log.warning(
                        "topic %s has %d partitions, not %d: tenants map to partitions by its count",
                        self.topic, count, self.partitions,
                    )  # fmt: skip
                return
            response = await admin.create_topics(
                [NewTopic(self.topic, num_partitions=self.partitions, replication_factor=self.replication)]
            )
            for _name, code, *rest in response.topic_errors:
                if code not in (0, _TOPIC_ALREADY_EXISTS):  # another hub node may have just created it
                    raise EventStreamError(f"creating topic {self.topic} failed: {code} {rest}")
        finally:
            await admin.close()

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                async with asyncio.timeout(self.timeout):
                    await producer.stop()  # flushes what is in hand
            except (KafkaError, OSError, TimeoutError):
                log.warning("Kafka producer did not stop cleanly", exc_info=True)

    async def send(self, records: Sequence[EventRecord]) -> None:
        if not records:
            return
        producer = self._producer
        if producer is None:
            raise EventStreamError("the Kafka event stream is not started", records=len(records))
        futures: list[asyncio.Future[object]] = []
        try:
            async with asyncio.timeout(self.timeout):
                if self._check_topic:
                    await self._ensure_topic()
                    await producer.client.force_metadata_update()
                    self._check_topic = False
                for record in records:
                    futures.append(
                        await producer.send(
                            self.topic,
                            value=encode_record(record),
                            key=tenant_key(record.tenant_id),
                            timestamp_ms=record.at or None,
                        )
                    )
                results = await asyncio.gather(*futures, return_exceptions=True)
        except (KafkaError, OSError, TimeoutError) as exc:
            self._check_topic = True
            for future in futures:
                if future.done() and not future.cancelled():
                    future.exception()  # retrieved: asyncio would log every one of them otherwise
            raise EventStreamError(
                f"Kafka did not take {len(records)} events: {exc!r}", records=len(records)
            ) from exc
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            self._check_topic = True
            raise EventStreamError(
                f"Kafka refused {len(failed)} of {len(records)} events: {failed[0]!r}", records=len(records)
            ) from failed[0]
        self.sent += len(records)
