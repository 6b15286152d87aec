"""RedisRateLimiter against the real Redis: windows, retry-after, sharing and outages."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from redis.asyncio import Redis

from adapters.redis import RedisRateLimiter, create_redis, ping
from domain.errors import Unavailable


def new_key() -> str:
    return f"login:{secrets.token_hex(6)}"


async def test_ping_returns_for_a_live_server(client: Redis) -> None:
    await ping(client)


async def test_ping_raises_unavailable_for_an_unreachable_server() -> None:
    dead = create_redis("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(Unavailable, match="redis unavailable"):
            await ping(dead)
    finally:
        await dead.aclose()


async def test_limit_is_enforced_within_the_window(client: Redis, redis_prefix: str) -> None:
    limiter = RedisRateLimiter(client, redis_prefix)
    key = new_key()
    decisions = [await limiter.hit(key, limit=3, window_seconds=60) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert all(d.retry_after == 0 for d in decisions[:3])
    assert all(55 <= d.retry_after <= 60 for d in decisions[3:])


async def test_window_expires_and_counting_starts_again(client: Redis, redis_prefix: str) -> None:
    limiter = RedisRateLimiter(client, redis_prefix)
    key = new_key()
    assert (await limiter.hit(key, limit=1, window_seconds=1)).allowed
    refused = await limiter.hit(key, limit=1, window_seconds=1)
    assert (refused.allowed, refused.retry_after) == (False, 1)
    await asyncio.sleep(1.1)
    assert (await limiter.hit(key, limit=1, window_seconds=1)).allowed


async def test_counters_live_under_the_prefix_with_a_ttl(client: Redis, redis_prefix: str) -> None:
    limiter = RedisRateLimiter(client, redis_prefix)
    key = new_key()
    await limiter.hit(key, limit=5, window_seconds=30)
    await limiter.hit(key, limit=5, window_seconds=30)
    stored = f"{redis_prefix}rl:{key}"
    assert await client.get(stored) == "2"
    assert 0 < await client.pttl(stored) <= 30_000


async def test_refused_hits_are_not_counted(client: Redis, redis_prefix: str) -> None:
    limiter = RedisRateLimiter(client, redis_prefix)
    key = new_key()
    for _ in range(10):
        await limiter.hit(key, limit=2, window_seconds=30)
    assert await client.get(f"{redis_prefix}rl:{key}") == "2"


async def test_two_replicas_share_one_counter(
    client: Redis, redis_url: str, redis_prefix: str
) -> None:
    other_client = create_redis(redis_url)
    try:
        first = RedisRateLimiter(client, redis_prefix)
        second = RedisRateLimiter(other_client, redis_prefix)
        key = new_key()
        assert (await first.hit(key, limit=2, window_seconds=60)).allowed
        assert (await second.hit(key, limit=2, window_seconds=60)).allowed
        assert not (await first.hit(key, limit=2, window_seconds=60)).allowed
        assert not (await second.peek(key, limit=2, window_seconds=60)).allowed
    finally:
        await other_client.aclose()


async def test_concurrent_hits_never_exceed_the_limit(client: Redis, redis_prefix: str) -> None:
    limiter = RedisRateLimiter(client, redis_prefix)
    key = new_key()
    decisions = await asyncio.gather(
        *(limiter.hit(key, limit=10, window_seconds=60) for _ in range(50))
    )
    assert sum(d.allowed for d in decisions) == 10


async def test_peek_does_not_count(client: Redis, redis_prefix: str) -> None:
    limiter = RedisRateLimiter(client, redis_prefix)
    key = new_key()
    for _ in range(5):
        assert (await limiter.peek(key, limit=1, window_seconds=60)).allowed
    assert (await limiter.hit(key, limit=1, window_seconds=60)).allowed
    refused = await limiter.peek(key, limit=1, window_seconds=60)
    assert not refused.allowed
    assert 55 <= refused.retry_after <= 60


async def test_reset_reopens_the_window(client: Redis, redis_prefix: str) -> None:
    limiter = RedisRateLimiter(client, redis_prefix)
    key = new_key()
    await limiter.hit(key, limit=1, window_seconds=60)
    await limiter.reset(key)
    assert (await limiter.hit(key, limit=1, window_seconds=60)).allowed


async def test_a_counter_without_ttl_gets_one_back(client: Redis, redis_prefix: str) -> None:
    limiter = RedisRateLimiter(client, redis_prefix)
    key = new_key()
    await client.set(f"{redis_prefix}rl:{key}", "7")
    refused = await limiter.hit(key, limit=3, window_seconds=20)
    assert (refused.allowed, refused.retry_after) == (False, 20)
    assert await client.pttl(f"{redis_prefix}rl:{key}") > 0


async def test_unreachable_redis_raises_unavailable() -> None:
    dead = create_redis("redis://127.0.0.1:1/0")
    limiter = RedisRateLimiter(dead, "astra-test-dead:")
    try:
        for call in (
            limiter.hit("k", limit=1, window_seconds=1),
            limiter.peek("k", limit=1, window_seconds=1),
            limiter.reset("k"),
        ):
            with pytest.raises(Unavailable) as caught:
                await call
            assert caught.value.retry_after == 1
            assert caught.value.message == "rate limiter unavailable"
    finally:
        await dead.aclose()
