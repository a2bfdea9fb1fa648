"""The publisher lease (``hub.events.publisher_lease``): one node per tenant speaks, until it falls silent."""

from __future__ import annotations

import asyncio
import uuid

from redis.asyncio import Redis

from hub.events.publisher_lease import Claim, RedisLease, SoleNode


async def test_one_node_holds_a_tenants_lease_until_it_expires(redis_url: str, redis_prefix: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        prefix = f"{redis_prefix}lease-{uuid.uuid4().hex[:6]}:"
        first, second = RedisLease(redis, prefix=prefix, ttl=0.3), RedisLease(redis, prefix=prefix, ttl=0.3)
        tenant, other_tenant = uuid.uuid4(), uuid.uuid4()
        assert await first.claim(tenant) is Claim.TAKEN
        assert await second.claim(tenant) is Claim.OTHER
        assert await second.claim(other_tenant) is Claim.TAKEN  # one lease per tenant
        assert await first.claim(tenant) is Claim.HELD  # each claim renews it ...
        await asyncio.sleep(0.2)
        assert await first.claim(tenant) is Claim.HELD
        await asyncio.sleep(0.2)
        assert await second.claim(tenant) is Claim.OTHER  # ... so it is still the first's after 0.4 s
        await asyncio.sleep(0.4)  # the first node said nothing for longer than the ttl (or died)
        assert await second.claim(tenant) is Claim.TAKEN
        assert await first.claim(tenant) is Claim.OTHER
    finally:
        await redis.aclose()


async def test_a_node_that_cannot_reach_redis_publishes() -> None:
    redis = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    try:
        assert await RedisLease(redis).claim(uuid.uuid4()) is Claim.HELD  # doubles rather than nothing
    finally:
        await redis.aclose()


async def test_a_sole_node_always_holds_it() -> None:
    assert await SoleNode().claim(uuid.uuid4()) is Claim.HELD
