"""RedisConcurrencyLimiter against the real Redis: one slot means one lease, across replicas."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from redis.asyncio import Redis

from adapters.redis import create_redis
from adapters.redis.concurrency import RedisConcurrencyLimiter
from application.chat.ports import Lease
from domain.errors import Unavailable


def new_key() -> str:
    return f"chat:{secrets.token_hex(6)}"


async def test_concurrent_acquires_with_limit_one_give_exactly_one_lease(
    client: Redis, redis_url: str, redis_prefix: str
) -> None:
    # Two "replicas", each with its own connection pool, racing for the same key.
    other_client = create_redis(redis_url)
    try:
        limiters = [
            RedisConcurrencyLimiter(client, redis_prefix),
            RedisConcurrencyLimiter(other_client, redis_prefix),
        ]
        key = new_key()
        leases = await asyncio.gather(
            *(limiters[i % 2].acquire(key, limit=1, ttl_seconds=30) for i in range(20))
        )
    finally:
        await other_client.aclose()
    granted = [lease for lease in leases if lease is not None]
    assert len(granted) == 1
    assert granted[0].key == key


async def test_the_limit_counts_live_leases(client: Redis, redis_prefix: str) -> None:
    limiter = RedisConcurrencyLimiter(client, redis_prefix)
    key = new_key()
    leases = [await limiter.acquire(key, limit=3, ttl_seconds=30) for _ in range(4)]
    assert [lease is not None for lease in leases] == [True, True, True, False]
    assert len({lease.token for lease in leases if lease is not None}) == 3


async def test_release_frees_the_slot(client: Redis, redis_prefix: str) -> None:
    limiter = RedisConcurrencyLimiter(client, redis_prefix)
    key = new_key()
    lease = await limiter.acquire(key, limit=1, ttl_seconds=30)
    assert lease is not None
    assert await limiter.acquire(key, limit=1, ttl_seconds=30) is None
    await limiter.release(lease)
    assert await limiter.acquire(key, limit=1, ttl_seconds=30) is not None


async def test_releasing_twice_or_a_stale_lease_frees_nothing_else(
    client: Redis, redis_prefix: str
) -> None:
    limiter = RedisConcurrencyLimiter(client, redis_prefix)
    key = new_key()
    first = await limiter.acquire(key, limit=1, ttl_seconds=30)
    assert first is not None
    await limiter.release(first)
    second = await limiter.acquire(key, limit=1, ttl_seconds=30)
    assert second is not None
    await limiter.release(first)  # already released: must not free `second`'s slot
    await limiter.release(Lease(key=key, token="not-a-lease"))
    assert await limiter.acquire(key, limit=1, ttl_seconds=30) is None


async def test_an_expired_lease_frees_its_slot(client: Redis, redis_prefix: str) -> None:
    limiter = RedisConcurrencyLimiter(client, redis_prefix)
    key = new_key()
    assert await limiter.acquire(key, limit=1, ttl_seconds=1) is not None
    assert await limiter.acquire(key, limit=1, ttl_seconds=1) is None
    await asyncio.sleep(1.1)
    assert await limiter.acquire(key, limit=1, ttl_seconds=1) is not None


async def test_separate_keys_are_independent(client: Redis, redis_prefix: str) -> None:
    limiter = RedisConcurrencyLimiter(client, redis_prefix)
    first, second = new_key(), new_key()
    assert await limiter.acquire(first, limit=1, ttl_seconds=30) is not None
    assert await limiter.acquire(second, limit=1, ttl_seconds=30) is not None
    assert await limiter.acquire(first, limit=1, ttl_seconds=30) is None


async def test_leases_live_under_the_prefix_and_the_key_expires(
    client: Redis, redis_prefix: str
) -> None:
    limiter = RedisConcurrencyLimiter(client, redis_prefix)
    key = new_key()
    short = await limiter.acquire(key, limit=2, ttl_seconds=5)
    long = await limiter.acquire(key, limit=2, ttl_seconds=20)
    assert short is not None
    assert long is not None
    stored = f"{redis_prefix}conc:{key}"
    assert set(await client.zrange(stored, 0, -1)) == {short.token, long.token}
    # The key lives as long as its longest lease, so an idle user's key goes away.
    assert 15_000 < await client.pttl(stored) <= 20_000
    await limiter.release(short)
    await limiter.release(long)
    assert await client.exists(stored) == 0


async def test_unreachable_redis_raises_unavailable() -> None:
    dead = create_redis("redis://127.0.0.1:1/0")
    limiter = RedisConcurrencyLimiter(dead, "astra-test-dead:")
    try:
        for call in (
            limiter.acquire("k", limit=1, ttl_seconds=30),
            limiter.release(Lease(key="k", token="t")),
        ):
            with pytest.raises(Unavailable) as caught:
                await call
            assert caught.value.retry_after == 1
    finally:
        await dead.aclose()


async def test_renew_pushes_a_live_lease_out_and_never_revives_a_dead_one(
    client: Redis, redis_prefix: str
) -> None:
    limiter = RedisConcurrencyLimiter(client, redis_prefix)
    key = new_key()
    lease = await limiter.acquire(key, limit=1, ttl_seconds=2)
    assert lease is not None
    redis_key = f"{redis_prefix}conc:{key}"
    before = await client.zscore(redis_key, lease.token)
    assert await limiter.renew(lease, ttl_seconds=60)
    after = await client.zscore(redis_key, lease.token)
    assert before is not None
    assert after is not None
    assert after - before > 50_000  # ms: pushed ~58 s further out
    assert await client.pttl(redis_key) > 50_000  # the set outlives its longest lease
    assert await limiter.acquire(key, limit=1, ttl_seconds=2) is None  # still held

    await limiter.release(lease)
    assert not await limiter.renew(lease, ttl_seconds=60)
    assert await client.zscore(redis_key, lease.token) is None
    stranger = Lease(key=key, token="not-a-lease")
    assert not await limiter.renew(stranger, ttl_seconds=60)
    assert await limiter.acquire(key, limit=1, ttl_seconds=2) is not None
