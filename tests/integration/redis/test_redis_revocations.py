"""RedisSessionRevocations against the real Redis: TTLs, the local cache and outages."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from adapters.redis import RedisSessionRevocations, create_redis
from application.common.ports import Clock
from domain.errors import Unavailable


class ManualClock(Clock):
    def __init__(self) -> None:
        self.current = datetime(2030, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


def new_session_id() -> str:
    return f"session-{secrets.token_hex(6)}"


async def test_revoked_sessions_are_reported_and_others_not(
    client: Redis, redis_prefix: str
) -> None:
    revocations = RedisSessionRevocations(client, redis_prefix)
    first, second, live = new_session_id(), new_session_id(), new_session_id()
    await revocations.revoke([first, second], ttl_seconds=900)
    assert await revocations.is_revoked(first)
    assert await revocations.is_revoked(second)
    assert not await revocations.is_revoked(live)


async def test_revocations_expire_with_their_ttl(client: Redis, redis_prefix: str) -> None:
    revocations = RedisSessionRevocations(client, redis_prefix)
    session_id = new_session_id()
    await revocations.revoke([session_id], ttl_seconds=900)
    ttl = await client.ttl(f"{redis_prefix}revoked:{session_id}")
    assert 890 <= ttl <= 900


async def test_revocation_through_the_same_instance_is_seen_at_once(
    client: Redis, redis_prefix: str
) -> None:
    revocations = RedisSessionRevocations(client, redis_prefix, local_cache_seconds=60)
    session_id = new_session_id()
    assert not await revocations.is_revoked(session_id)  # now cached as "not revoked"
    await revocations.revoke([session_id], ttl_seconds=900)
    assert await revocations.is_revoked(session_id)


async def test_other_replica_sees_a_revocation_once_its_cache_entry_ages_out(
    client: Redis, redis_url: str, redis_prefix: str
) -> None:
    other_client = create_redis(redis_url)
    clock = ManualClock()
    try:
        replica_a = RedisSessionRevocations(client, redis_prefix, clock=clock)
        replica_b = RedisSessionRevocations(other_client, redis_prefix, clock=clock)
        session_id = new_session_id()
        assert not await replica_b.is_revoked(session_id)
        await replica_a.revoke([session_id], ttl_seconds=900)
        clock.advance(0.5)
        assert not await replica_b.is_revoked(session_id)  # still within its 1 s cache
        clock.advance(0.5)
        assert await replica_b.is_revoked(session_id)
    finally:
        await other_client.aclose()


async def test_other_replica_sees_a_revocation_within_about_a_second_of_real_time(
    client: Redis, redis_url: str, redis_prefix: str
) -> None:
    other_client = create_redis(redis_url)
    try:
        replica_a = RedisSessionRevocations(client, redis_prefix)
        replica_b = RedisSessionRevocations(other_client, redis_prefix)
        session_id = new_session_id()
        assert not await replica_b.is_revoked(session_id)  # b now trusts "no" for 1 s
        cached_at = time.time()  # no earlier than b's own clock reading for that answer
        await replica_a.revoke([session_id], ttl_seconds=900)
        # Not "seen within 1.1 s of the revoke", which a busy machine can miss by being slow
        # to ask: every stale "no" must have been asked for within b's 1 s cache window.
        stale_answers_asked_at: list[float] = []
        deadline = time.monotonic() + 30
        while True:
            asked_at = time.time()
            if await replica_b.is_revoked(session_id):
                break
            stale_answers_asked_at.append(asked_at)
            assert time.monotonic() < deadline, "replica b never saw the revocation"
            await asyncio.sleep(0.05)
        assert all(at < cached_at + 1.0 for at in stale_answers_asked_at), (
            cached_at,
            stale_answers_asked_at,
        )
    finally:
        await other_client.aclose()


async def test_local_cache_spares_redis_round_trips(client: Redis, redis_prefix: str) -> None:
    clock = ManualClock()
    revocations = RedisSessionRevocations(client, redis_prefix, clock=clock)
    session_id = new_session_id()
    assert not await revocations.is_revoked(session_id)
    # Written behind the adapter's back: the cached "no" still holds for up to a second.
    await client.set(f"{redis_prefix}revoked:{session_id}", "1", ex=60)
    assert not await revocations.is_revoked(session_id)
    clock.advance(1.0)
    assert await revocations.is_revoked(session_id)


async def test_local_cache_is_bounded(client: Redis, redis_prefix: str) -> None:
    revocations = RedisSessionRevocations(client, redis_prefix, max_cache_entries=10)
    ids = [new_session_id() for _ in range(25)]
    for session_id in ids:
        assert not await revocations.is_revoked(session_id)
    assert revocations.cache.keys() == ids[-10:]


async def test_unreachable_redis_raises_unavailable() -> None:
    dead = create_redis("redis://127.0.0.1:1/0")
    revocations = RedisSessionRevocations(dead, "astra-test-dead:")
    try:
        with pytest.raises(Unavailable) as caught:
            await revocations.is_revoked("s")
        assert caught.value.retry_after == 1
        with pytest.raises(Unavailable):
            await revocations.revoke(["s"], ttl_seconds=60)
    finally:
        await dead.aclose()


class CountingRedis:
    """The real client, counting EXISTS calls."""

    def __init__(self, client: Redis) -> None:
        self._client = client
        self.exists_calls = 0

    async def exists(self, *names: str) -> int:
        self.exists_calls += 1
        return int(await self._client.exists(*names))

    def pipeline(self, transaction: bool = True) -> object:
        return self._client.pipeline(transaction=transaction)


async def test_a_burst_of_lookups_is_one_read(client: Redis, redis_prefix: str) -> None:
    counting = CountingRedis(client)
    revocations = RedisSessionRevocations(counting, redis_prefix)  # type: ignore[arg-type]
    session_id = secrets.token_hex(8)
    answers = await asyncio.gather(*(revocations.is_revoked(session_id) for _ in range(50)))
    assert answers == [False] * 50
    assert counting.exists_calls == 1


async def test_a_revocation_is_seen_by_lookups_after_it(client: Redis, redis_prefix: str) -> None:
    revocations = RedisSessionRevocations(client, redis_prefix)
    session_id = secrets.token_hex(8)
    racing = asyncio.create_task(revocations.is_revoked(session_id))
    await asyncio.sleep(0)  # its read is in flight
    await revocations.revoke([session_id], ttl_seconds=60)
    assert await revocations.is_revoked(session_id)
    await racing  # either answer is right for a lookup that overlapped the revocation
