"""The chat turn gate on a real Redis: one script takes slot, rate hit and registration all
or nothing, one pipeline gives them back; the separate adapters see what it took."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from redis.asyncio import Redis

from adapters.redis import create_redis
from adapters.redis.concurrency import RedisConcurrencyLimiter
from adapters.redis.limits import RedisRateLimiter
from adapters.redis.tasks import RedisTaskRegistry
from adapters.redis.turn_gate import RedisTurnGate
from application.chat.ports import RunningTask, TurnLimits, TurnPass, TurnRefusal
from domain.errors import Unavailable

pytestmark = pytest.mark.integration


Parts = tuple[RedisTurnGate, RedisConcurrencyLimiter, RedisRateLimiter, RedisTaskRegistry]


@pytest.fixture
async def parts(client: Redis, redis_prefix: str) -> AsyncIterator[Parts]:
    leases = RedisConcurrencyLimiter(client, redis_prefix)
    rates = RedisRateLimiter(client, redis_prefix)
    async with RedisTaskRegistry.open(client, redis_prefix) as tasks:
        yield RedisTurnGate(client, leases, rates, tasks), leases, rates, tasks


def limits(user: str, tenant: str, *, slots: int = 1, rate_limit: int = 100) -> TurnLimits:
    return TurnLimits(
        slot_key=f"chat:{tenant}:{user}",
        slots=slots,
        lease_seconds=20,
        rate_key=f"chat:tenant:{tenant}",
        rate_limit=rate_limit,
        rate_window_seconds=60,
        task=RunningTask(secrets.token_hex(8), tenant, user),
        task_ttl_seconds=330,
    )


async def test_racing_turns_of_one_user_get_one_slot(parts: Parts) -> None:
    gate, leases, _, tasks = parts
    base = limits("u", secrets.token_hex(6))
    attempts = [replace(base, task=RunningTask(secrets.token_hex(8), "t", "u")) for _ in range(20)]
    outcomes = await asyncio.gather(*(gate.enter(attempt) for attempt in attempts))
    winners = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, TurnPass)]
    assert len(winners) == 1
    winner = outcomes[winners[0]]
    assert isinstance(winner, TurnPass)
    for i, outcome in enumerate(outcomes):
        if i != winners[0]:
            assert isinstance(outcome, TurnRefusal)
            assert outcome.slot_taken
    # Only the winner is registered; the refused left nothing behind.
    registered = [await tasks.get(attempt.task.task_id) for attempt in attempts]
    assert [r for r in registered if r is not None] == [attempts[winners[0]].task]
    assert await leases.renew(winner.lease, 20)  # the separate adapter sees the gate's lease
    await gate.leave(winner)
    assert await tasks.get(attempts[winners[0]].task.task_id) is None
    assert not await leases.renew(winner.lease, 20)  # released: not taken back
    assert isinstance(await gate.enter(replace(base, task=RunningTask("next", "t", "u"))), TurnPass)


async def test_a_spent_rate_takes_no_slot_and_counts_nothing_more(parts: Parts) -> None:
    gate, leases, rates, _ = parts
    tenant = secrets.token_hex(6)
    first = await gate.enter(limits("a", tenant, rate_limit=2))
    second = await gate.enter(limits("b", tenant, rate_limit=2))
    assert isinstance(first, TurnPass)
    assert isinstance(second, TurnPass)
    refused = await gate.enter(limits("c", tenant, rate_limit=2))
    assert isinstance(refused, TurnRefusal)
    assert not refused.slot_taken
    assert 1 <= refused.retry_after <= 60
    # No slot of "c" was taken: one lease of its own still fits.
    assert await leases.acquire(f"chat:{tenant}:c", 1, 20) is not None
    # Exactly the two admitted turns were counted.
    assert (await rates.peek(f"chat:tenant:{tenant}", 3, 60)).allowed
    assert not (await rates.peek(f"chat:tenant:{tenant}", 2, 60)).allowed


async def test_a_stop_requested_before_the_turn_entered_is_seen(parts: Parts) -> None:
    gate, _, _, tasks = parts
    wanted = limits("u", secrets.token_hex(6))
    await tasks.request_stop(wanted.task.task_id)
    passed = await gate.enter(wanted)
    assert isinstance(passed, TurnPass)
    assert passed.watch.stopped.is_set()
    await gate.leave(passed)


async def test_redis_down_is_unavailable_and_holds_nothing(redis_prefix: str) -> None:
    dead = create_redis("redis://127.0.0.1:1/0")
    tasks = RedisTaskRegistry(dead, redis_prefix)
    gate = RedisTurnGate(
        dead,
        RedisConcurrencyLimiter(dead, redis_prefix),
        RedisRateLimiter(dead, redis_prefix),
        tasks,
    )
    try:
        with pytest.raises(Unavailable):
            await gate.enter(limits("u", "t"))
    finally:
        await tasks.aclose()
        await dead.aclose()
