"""In-memory concurrency leases and task registry: the Redis adapters' semantics in one process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from adapters.memory.concurrency import MemoryConcurrencyLimiter
from adapters.memory.tasks import MemoryTaskRegistry
from application.chat.ports import Lease, RunningTask
from application.common.ports import Clock


class ManualClock(Clock):
    def __init__(self) -> None:
        self.current = datetime(2030, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


# ---------------------------------------------------------------- concurrency limiter


async def test_concurrent_acquires_with_limit_one_give_exactly_one_lease() -> None:
    limiter = MemoryConcurrencyLimiter(ManualClock())
    leases = await asyncio.gather(*(limiter.acquire("k", 1, 30) for _ in range(20)))
    assert sum(lease is not None for lease in leases) == 1


async def test_the_limit_counts_live_leases_and_release_frees_one() -> None:
    limiter = MemoryConcurrencyLimiter(ManualClock())
    leases = [await limiter.acquire("k", 2, 30) for _ in range(3)]
    assert [lease is not None for lease in leases] == [True, True, False]
    first = leases[0]
    assert first is not None
    await limiter.release(first)
    assert await limiter.acquire("k", 2, 30) is not None
    assert await limiter.acquire("k", 2, 30) is None


async def test_a_stale_release_frees_nothing_else() -> None:
    limiter = MemoryConcurrencyLimiter(ManualClock())
    first = await limiter.acquire("k", 1, 30)
    assert first is not None
    await limiter.release(first)
    assert await limiter.acquire("k", 1, 30) is not None
    await limiter.release(first)
    await limiter.release(Lease(key="k", token="not-a-lease"))
    await limiter.release(Lease(key="unknown", token="t"))
    assert await limiter.acquire("k", 1, 30) is None


async def test_a_lease_expires_by_the_clock() -> None:
    clock = ManualClock()
    limiter = MemoryConcurrencyLimiter(clock)
    assert await limiter.acquire("k", 1, 10) is not None
    clock.advance(9.9)
    assert await limiter.acquire("k", 1, 10) is None
    clock.advance(0.1)
    assert await limiter.acquire("k", 1, 10) is not None


async def test_separate_keys_are_independent() -> None:
    limiter = MemoryConcurrencyLimiter(ManualClock())
    assert await limiter.acquire("a", 1, 30) is not None
    assert await limiter.acquire("b", 1, 30) is not None
    assert await limiter.acquire("a", 1, 30) is None


async def test_a_zero_limit_refuses_everyone() -> None:
    limiter = MemoryConcurrencyLimiter(ManualClock())
    assert await limiter.acquire("k", 0, 30) is None


# ---------------------------------------------------------------- task registry


def new_task(task_id: str = "task-1") -> RunningTask:
    return RunningTask(task_id=task_id, tenant_id="tenant-1", external_user_id="user-1")


async def test_a_stop_request_sets_the_watch_of_a_running_task() -> None:
    registry = MemoryTaskRegistry(ManualClock())
    watch = await registry.start(new_task(), ttl_seconds=60)
    other = await registry.start(new_task("task-2"), ttl_seconds=60)
    await registry.request_stop("task-1")
    assert watch.stopped.is_set()
    assert not other.stopped.is_set()


async def test_get_sees_the_task_until_finished_or_expired() -> None:
    clock = ManualClock()
    registry = MemoryTaskRegistry(clock)
    watch = await registry.start(new_task(), ttl_seconds=60)
    await registry.start(new_task("short"), ttl_seconds=5)
    assert await registry.get("task-1") == new_task()
    clock.advance(5)
    assert await registry.get("short") is None
    await registry.finish(watch)
    assert await registry.get("task-1") is None


async def test_a_finished_task_is_no_longer_stopped() -> None:
    registry = MemoryTaskRegistry(ManualClock())
    watch = await registry.start(new_task(), ttl_seconds=60)
    await registry.finish(watch)
    await registry.request_stop("task-1")
    assert not watch.stopped.is_set()


async def test_a_stop_before_the_start_is_kept_for_a_while() -> None:
    clock = ManualClock()
    registry = MemoryTaskRegistry(clock, stop_mark_seconds=10)
    await registry.request_stop("early")
    assert (await registry.start(new_task("early"), ttl_seconds=60)).stopped.is_set()
    await registry.request_stop("late")
    clock.advance(10)
    assert not (await registry.start(new_task("late"), ttl_seconds=60)).stopped.is_set()
