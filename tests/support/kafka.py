"""Reading a topic back in tests: every partition from the start, without a consumer group."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import NamedTuple

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


class Fetched(NamedTuple):
    partition: int
    offset: int
    key: bytes | None
    value: bytes


async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(topic, num_partitions=partitions, replication_factor=1)]
        )
        assert all(code == 0 for _name, code, *_ in response.topic_errors), response
    finally:
        await admin.close()


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[Fetched]], bool],
    timeout: float = 20.0,
) -> list[Fetched]:
    """Read ``topic`` from the beginning until ``until(everything read)`` holds; TimeoutError otherwise."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    got: list[Fetched] = []
    try:
        async with asyncio.timeout(timeout):
            partitions = await _partitions(consumer, topic)
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            while not until(got):
                batch = await consumer.getmany(timeout_ms=200)
                for tp, messages in sorted(batch.items(), key=lambda item: item[0].partition):
                    got += [Fetched(tp.partition, m.offset, m.key, m.value or b"") for m in messages]
    except TimeoutError as exc:
        raise TimeoutError(f"read {len(got)} records of {topic} in {timeout}s; condition not met") from exc
    finally:
        await consumer.stop()
    return got


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    while True:
        found = consumer.partitions_for_topic(topic)
        if found:
            return set(found)
        await consumer.topics()  # fetches the cluster's metadata: the consumer learns topics lazily
        await asyncio.sleep(0.05)  # polling interval while the topic is being created
