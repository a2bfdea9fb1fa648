"""With ``STOREHUB_REDIS_URL`` the hub shares login limits through Redis and checks it in ``/readyz``."""

from __future__ import annotations

from hub.auth.ratelimit import RedisRateLimiter
from hub.services import Services
from tests.hub.conftest import make_settings


async def test_services_use_redis_when_configured(redis_url: str, sqlite_url: str) -> None:
    services = Services(make_settings(sqlite_url, redis_url=redis_url))
    await services.start()
    try:
        assert isinstance(services.rate_limiter, RedisRateLimiter)
        assert services.components[:2] == ("db", "redis")
        assert services.redis is not None
        assert await services.redis.ping()
    finally:
        await services.stop()
