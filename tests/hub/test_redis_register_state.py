"""The registers' shared state in a real Redis: compare-and-swap on the version, expiry of readings."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

import hub.redis_register_state
from actors.register_state import SavedState, SharedReading
from hub.redis_register_state import RedisRegisterState
from schema.errors import UnavailableError
from schema.messages.till import ScaleReading
from tests.support.procs import free_port


@pytest.fixture
def store(redis: Redis) -> RedisRegisterState:
    return RedisRegisterState(redis, prefix=f"test-{uuid.uuid4().hex[:8]}:")


def state(version: int, *applied: str) -> SavedState:
    return SavedState(version=version, next_line_id=1, lines=[], session_id=None, applied=list(applied))


async def test_a_swap_stores_only_over_the_version_it_started_from(store: RedisRegisterState) -> None:
    tenant, register = uuid.uuid4(), uuid.uuid4()
    assert await store.load(tenant, register) is None
    assert await store.swap(tenant, register, 0, state(1, "a")) is None  # nothing stored yet: stored
    assert await store.swap(tenant, register, 1, state(2, "b")) is None
    # Another node still at version 1 loses, and gets what is stored.
    assert await store.swap(tenant, register, 1, state(2, "c")) == state(2, "b")
    assert await store.load(tenant, register) == state(2, "b")
    assert await store.swap(tenant, register, None, state(5, "d")) is None  # unconditional
    assert await store.load(tenant, register) == state(5, "d")
    assert await store.load(tenant, uuid.uuid4()) is None  # another register's is its own
    ttl = await store.redis.ttl(store._key(tenant, register))
    assert 0 < ttl <= hub.redis_register_state.STATE_TTL_SECONDS


async def test_a_reading_is_gone_once_stale(
    store: RedisRegisterState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub.redis_register_state, "READING_TTL_SECONDS", 0.3)
    tenant, register = uuid.uuid4(), uuid.uuid4()
    reading = SharedReading(ScaleReading(register_id=register, grams=455, stable=True), time.time())
    await store.put_reading(tenant, register, reading)
    assert await store.reading(tenant, register) == reading
    await asyncio.sleep(0.5)
    assert await store.reading(tenant, register) is None


async def test_redis_away_is_unavailable_not_a_crash() -> None:
    redis = Redis(port=free_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))  # fails at once
    store = RedisRegisterState(redis)
    tenant, register = uuid.uuid4(), uuid.uuid4()
    try:
        with pytest.raises(UnavailableError):
            await store.load(tenant, register)
        with pytest.raises(UnavailableError):
            await store.swap(tenant, register, 0, state(1))
        with pytest.raises(UnavailableError):
            await store.reading(tenant, register)
    finally:
        await redis.aclose()
