"""The shared record of devices' live status (``hub.device_presence``) on a real Redis: written, read by
another node, expired when not refreshed, withdrawn only by the node that wrote it, and Redis away never
raises."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from redis.asyncio import Redis

from hub.device_presence import RedisPresence
from schema.messages.devices import DeviceStatusView
from tests.support.procs import free_port

TENANT = uuid.uuid4()


def view(**changes: object) -> DeviceStatusView:
    fields: dict[str, object] = {
        "device_id": uuid.uuid4(),
        "kind": "printer",
        "name": "Impresora caja 1",
        "register_id": uuid.uuid4(),
        "connected": True,
        "online": True,
        "paper_near_end": True,
    }
    return DeviceStatusView(**(fields | changes))  # type: ignore[arg-type]


def node(redis: Redis, prefix: str, **kwargs: float) -> RedisPresence:
    return RedisPresence(redis, prefix=prefix, **kwargs)


async def test_a_shared_status_is_read_by_every_node(redis: Redis, redis_prefix: str) -> None:
    here, there = node(redis, redis_prefix), node(redis, redis_prefix)
    status = view()
    await here.share(TENANT, status)

    assert await there.shared(TENANT, status.device_id) == status
    assert await there.shared(uuid.uuid4(), status.device_id) is None  # another tenant's key
    assert await redis.pttl(here.key(TENANT, status.device_id)) > 25_000  # the default TTL, 30 s


async def test_a_status_not_refreshed_expires(redis: Redis, redis_prefix: str) -> None:
    # A node killed without a word: nothing withdraws its record, the TTL does.
    killed = node(redis, redis_prefix, ttl=0.2)
    status = view()
    await killed.share(TENANT, status)
    assert await killed.shared(TENANT, status.device_id) == status

    async with asyncio.timeout(5):
        while await killed.shared(TENANT, status.device_id) is not None:
            await asyncio.sleep(0.05)


async def test_a_status_is_withdrawn_only_by_the_node_that_shared_it(redis: Redis, redis_prefix: str) -> None:
    old, new = node(redis, redis_prefix), node(redis, redis_prefix)
    status = view()
    await new.share(TENANT, status)  # the agent reconnected to the new node before the old saw it leave

    await old.withdraw(TENANT, status.device_id)
    assert await old.shared(TENANT, status.device_id) == status

    await new.withdraw(TENANT, status.device_id)  # the agent left the new node too
    assert await old.shared(TENANT, status.device_id) is None
    await new.withdraw(TENANT, status.device_id)  # nothing left to withdraw: no error


async def test_redis_away_raises_nothing(caplog: pytest.LogCaptureFixture) -> None:
    away = Redis.from_url(f"redis://127.0.0.1:{free_port()}")  # nothing listens there
    try:
        presence = RedisPresence(away)
        status = view()
        with caplog.at_level(logging.WARNING, logger="hub.device_presence"):
            await presence.share(TENANT, status)
            await presence.withdraw(TENANT, status.device_id)
            assert await presence.shared(TENANT, status.device_id) is None
    finally:
        await away.aclose()
    assert len([r for r in caplog.records if r.name == "hub.device_presence"]) == 3
