"""One contract for every RateLimiter (memory, Redis), and the limits as the HTTP API applies them."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from hub.auth.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter, check
from schema.errors import RateLimitedError
from tests.hub.conftest import FakeClock, Hub, HubFactory

LIMIT = 3


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def limiter(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield MemoryRateLimiter(LIMIT, window=60.0, clock=clock)
        return
    redis_url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("redis_prefix")
    client = Redis.from_url(redis_url)
    try:
        yield RedisRateLimiter(
            client, LIMIT, window=60.0, clock=clock, prefix=f"{prefix}rl:{secrets.token_hex(4)}:"
        )
    finally:
        await client.aclose()


async def test_allows_up_to_the_limit_then_blocks(limiter: RateLimiter) -> None:
    for _ in range(LIMIT):
        assert await limiter.retry_after("k") == 0
        await limiter.hit("k")
    wait = await limiter.retry_after("k")
    assert 59 < wait <= 60
    with pytest.raises(RateLimitedError) as caught:
        await check(limiter, "other", "k")
    assert caught.value.details["retry_after"] == 60


async def test_window_slides(limiter: RateLimiter, clock: FakeClock) -> None:
    await limiter.hit("k")
    clock.advance(20)
    await limiter.hit("k")
    clock.advance(20)
    await limiter.hit("k")
    assert await limiter.retry_after("k") == pytest.approx(20)  # the first hit leaves the window at t=60
    clock.advance(20)
    assert await limiter.retry_after("k") == 0
    await limiter.hit("k")
    assert await limiter.retry_after("k") == pytest.approx(20)
    clock.advance(60)
    assert await limiter.retry_after("k") == 0


async def test_keys_are_independent_and_reset_forgets(limiter: RateLimiter) -> None:
    for _ in range(LIMIT):
        await limiter.hit("a")
    assert await limiter.retry_after("a") > 0
    assert await limiter.retry_after("b") == 0
    await check(limiter, "b", "c")  # does not raise
    await limiter.reset("a")
    assert await limiter.retry_after("a") == 0


async def test_keys_with_odd_characters(limiter: RateLimiter) -> None:
    key = "login:account:tienda:josé ñandú*?[]{}\n" + "x" * 500
    for _ in range(LIMIT):
        await limiter.hit(key)
    assert await limiter.retry_after(key) > 0
    assert await limiter.retry_after(key[:-1]) == 0


# --- the limits as the API applies them ---------------------------------------------------------------


async def _fail(hub: Hub, username: str = "owner", address: str | None = None) -> int:
    response = await hub.client.post(
        "/api/v1/auth/login",
        json={"tenant": hub.a.slug, "username": username, "password": "wrong"},
        headers={"X-Forwarded-For": f"198.51.100.7, {address}"} if address else None,
    )
    return response.status_code


async def test_login_is_limited_per_account(hub_factory: HubFactory) -> None:
    hub: Hub = await hub_factory(login_attempts_per_minute=3, trust_proxy_headers=True)
    assert [await _fail(hub, address=f"203.0.113.{i}") for i in range(3)] == [401, 401, 401]
    blocked = await hub.client.post(
        "/api/v1/auth/login",
        json={"tenant": hub.a.slug, "username": "owner", "password": hub.a.password},
        headers={"X-Forwarded-For": "203.0.113.99"},
    )
    assert blocked.status_code == 429  # even the right password waits, from any address
    assert blocked.headers["content-type"].startswith("application/problem+json")
    assert blocked.json()["code"] == "rate_limited"
    assert blocked.headers["retry-after"] == "60"
    assert blocked.json()["retry_after"] == 60
    assert await _fail(hub, username="manager", address="203.0.113.98") == 401  # other accounts go on
    hub.clock.advance(61)
    assert await hub.login(hub.a)  # the window passed


async def test_login_is_limited_per_address(hub_factory: HubFactory) -> None:
    hub: Hub = await hub_factory(login_attempts_per_minute=3)
    statuses = [await _fail(hub, username=f"user{i}") for i in range(4)]
    assert statuses == [401, 401, 401, 429]  # different accounts, one address


async def test_forwarded_for_is_ignored_unless_trusted(hub_factory: HubFactory) -> None:
    hub: Hub = await hub_factory(login_attempts_per_minute=2)
    statuses = [await _fail(hub, username=f"user{i}", address=f"203.0.113.{i}") for i in range(3)]
    assert statuses == [401, 401, 429]  # a spoofed header does not buy fresh addresses


async def test_success_resets_the_account_counter(hub_factory: HubFactory) -> None:
    hub: Hub = await hub_factory(login_attempts_per_minute=3, trust_proxy_headers=True)
    assert [await _fail(hub, address=f"203.0.113.{i}") for i in range(2)] == [401, 401]
    await hub.login(hub.a)
    statuses = [await _fail(hub, address=f"203.0.113.{i}") for i in range(10, 14)]
    assert statuses == [401, 401, 401, 429]


async def test_pairing_is_limited_like_login(hub_factory: HubFactory) -> None:
    hub: Hub = await hub_factory(login_attempts_per_minute=2)
    statuses = []
    for _ in range(3):
        response = await hub.client.post(
            "/api/v1/devices/pair", json={"tenant": hub.a.slug, "code": "WRONGCODE1"}
        )
        statuses.append(response.status_code)
    assert statuses == [401, 401, 429]
