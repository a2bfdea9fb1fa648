"""Sliding-window rate limits for failed sign-ins and pairings.

A port with two implementations (in-process memory, Redis shared by every hub node) and one contract test
suite (``tests/hub/test_ratelimit.py``). Only failures are counted: ``retry_after(key)`` before trying,
``hit(key)`` after a failure, ``reset(key)`` after a success. The clock is injectable so tests move time
instead of sleeping.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis

from schema.errors import RateLimitedError

Clock = Callable[[], float]


class RateLimiter(Protocol):
    limit: int
    window: float

    async def retry_after(self, key: str) -> float:
        """0 when another attempt is allowed now, else the seconds until one is."""
        ...

    async def hit(self, key: str) -> None:
        """Count one failed attempt."""
        ...

    async def reset(self, key: str) -> None:
        """Forget the key's failures."""
        ...


async def check(limiter: RateLimiter, *keys: str) -> None:
    """Raise :class:`RateLimitedError` (with ``retry_after``) when any key is over its limit."""
    waits = [await limiter.retry_after(key) for key in keys]
    wait = max(waits, default=0.0)
    if wait > 0:
        raise RateLimitedError("demasiados intentos; espere un momento", retry_after=math.ceil(wait))


async def hit_all(limiter: RateLimiter, *keys: str) -> None:
    for key in keys:
        await limiter.hit(key)


def _wait(hits_in_window: list[float], limit: int, window: float, now: float) -> float:
    """Seconds until fewer than ``limit`` hits remain in the window (``hits`` sorted oldest first)."""
    excess = len(hits_in_window) - limit
    if excess < 0:
        return 0.0
    return max(0.0, hits_in_window[excess] + window - now)


class MemoryRateLimiter:
    """One process only: fine for the embedded hub and for tests."""

    def __init__(self, limit: int, window: float = 60.0, clock: Clock = time.monotonic) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = asyncio.Lock()
        self._ops = 0

    def _prune(self, key: str, now: float) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits

    async def retry_after(self, key: str) -> float:
        async with self._lock:
            now = self._clock()
            hits = self._prune(key, now)
            return _wait(list(hits), self.limit, self.window, now) if hits else 0.0

    async def hit(self, key: str) -> None:
        async with self._lock:
            now = self._clock()
            self._hits.setdefault(key, deque()).append(now)
            self._ops += 1
            if self._ops % 1024 == 0:  # sweep keys nobody touched for a window, so memory stays bounded
                for stale in list(self._hits):
                    self._prune(stale, now)

    async def reset(self, key: str) -> None:
        async with self._lock:
            self._hits.pop(key, None)


class RedisRateLimiter:
    """Shared by every hub node: one sorted set per key, scores are attempt times."""

    def __init__(
        self,
        redis: Redis,
        limit: int,
        window: float = 60.0,
        clock: Clock = time.time,
        prefix: str = "storehub:ratelimit:",
    ) -> None:
        self.redis, self.limit, self.window, self._clock, self.prefix = redis, limit, window, clock, prefix

    def _key(self, key: str) -> str:
        # Keys contain user input (usernames): hash them so Redis keys stay short and harmless.
        return self.prefix + hashlib.sha256(key.encode()).hexdigest()

    async def retry_after(self, key: str) -> float:
        now = self._clock()
        name = self._key(key)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(name, "-inf", now - self.window)
            pipe.zrange(name, 0, -1, withscores=True)
            _, members = await pipe.execute()
        scores = sorted(float(score) for _member, score in members)
        return _wait(scores, self.limit, self.window, now)

    async def hit(self, key: str) -> None:
        now = self._clock()
        name = self._key(key)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(name, {f"{now!r}:{secrets.token_hex(4)}": now})
            pipe.zremrangebyscore(name, "-inf", now - self.window)
            pipe.expire(name, math.ceil(self.window) + 1)
            await pipe.execute()

    async def reset(self, key: str) -> None:
        await self.redis.delete(self._key(key))
