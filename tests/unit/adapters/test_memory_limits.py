"""In-memory fixed-window rate limits and session revocations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.memory.limits import MemoryRateLimiter
from adapters.memory.revocations import MemorySessionRevocations
from application.common.ports import Clock, RateDecision


class ManualClock(Clock):
    def __init__(self) -> None:
        self.current = datetime(2030, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


async def test_hits_up_to_the_limit_are_allowed_then_refused() -> None:
    limiter = MemoryRateLimiter(ManualClock())
    decisions = [await limiter.hit("k", limit=3, window_seconds=60) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[-1].retry_after == 60


async def test_retry_after_counts_down_to_the_end_of_the_window() -> None:
    clock = ManualClock()
    limiter = MemoryRateLimiter(clock)
    await limiter.hit("k", limit=1, window_seconds=60)
    clock.advance(45.5)
    assert await limiter.hit("k", limit=1, window_seconds=60) == RateDecision(False, 15)
    clock.advance(14.0)
    assert await limiter.hit("k", limit=1, window_seconds=60) == RateDecision(False, 1)


async def test_a_new_window_opens_when_the_old_one_ends() -> None:
    clock = ManualClock()
    limiter = MemoryRateLimiter(clock)
    assert (await limiter.hit("k", limit=1, window_seconds=10)).allowed
    clock.advance(10)
    assert (await limiter.hit("k", limit=1, window_seconds=10)).allowed
    assert not (await limiter.hit("k", limit=1, window_seconds=10)).allowed


async def test_refused_hits_do_not_extend_the_window() -> None:
    clock = ManualClock()
    limiter = MemoryRateLimiter(clock)
    await limiter.hit("k", limit=1, window_seconds=10)
    for _ in range(5):
        clock.advance(1.9)
        await limiter.hit("k", limit=1, window_seconds=10)
    clock.advance(0.5)
    assert (await limiter.hit("k", limit=1, window_seconds=10)).allowed


async def test_keys_are_counted_separately() -> None:
    limiter = MemoryRateLimiter(ManualClock())
    assert (await limiter.hit("a", limit=1, window_seconds=60)).allowed
    assert (await limiter.hit("b", limit=1, window_seconds=60)).allowed
    assert not (await limiter.hit("a", limit=1, window_seconds=60)).allowed


async def test_peek_tells_the_answer_without_counting() -> None:
    clock = ManualClock()
    limiter = MemoryRateLimiter(clock)
    for _ in range(3):
        assert (await limiter.peek("k", limit=1, window_seconds=60)).allowed
    await limiter.hit("k", limit=1, window_seconds=60)
    clock.advance(20)
    assert await limiter.peek("k", limit=1, window_seconds=60) == RateDecision(False, 40)


async def test_reset_forgets_the_window() -> None:
    limiter = MemoryRateLimiter(ManualClock())
    await limiter.hit("k", limit=1, window_seconds=60)
    await limiter.reset("k")
    assert (await limiter.hit("k", limit=1, window_seconds=60)).allowed


async def test_a_zero_limit_refuses_everything() -> None:
    limiter = MemoryRateLimiter(ManualClock())
    assert await limiter.hit("k", limit=0, window_seconds=30) == RateDecision(False, 30)
    assert await limiter.peek("k", limit=0, window_seconds=30) == RateDecision(False, 30)


async def test_expired_windows_are_swept_from_memory() -> None:
    clock = ManualClock()
    limiter = MemoryRateLimiter(clock)
    for index in range(2000):
        await limiter.hit(f"k{index}", limit=5, window_seconds=1)
        clock.advance(0.01)
    assert len(limiter._windows) < 1200


async def test_revoked_session_is_seen_until_the_ttl_ends() -> None:
    clock = ManualClock()
    revocations = MemorySessionRevocations(clock)
    await revocations.revoke(["s1", "s2"], ttl_seconds=900)
    assert await revocations.is_revoked("s1")
    assert await revocations.is_revoked("s2")
    assert not await revocations.is_revoked("s3")
    clock.advance(899)
    assert await revocations.is_revoked("s1")
    clock.advance(1)
    assert not await revocations.is_revoked("s1")


async def test_revoking_again_never_shortens_a_revocation() -> None:
    clock = ManualClock()
    revocations = MemorySessionRevocations(clock)
    await revocations.revoke(["s"], ttl_seconds=900)
    await revocations.revoke(["s"], ttl_seconds=10)
    clock.advance(60)
    assert await revocations.is_revoked("s")


async def test_revoking_nothing_is_harmless() -> None:
    revocations = MemorySessionRevocations(ManualClock())
    await revocations.revoke([], ttl_seconds=900)
    assert not await revocations.is_revoked("s")
