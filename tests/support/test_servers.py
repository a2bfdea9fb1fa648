"""The server fixtures themselves: Redis hands each session a database of its own and cleans it up."""

from __future__ import annotations

import pytest
import redis

from tests.support.redis import claimed_database


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
