"""A `TurnGate` made of the three separate ports, one step after the other (the in-process
limits of the embedded default; Redis has its own one-round-trip gate)."""

from __future__ import annotations

from contextlib import AsyncExitStack

from application.chat.ports import (
    ConcurrencyLimiter,
    TaskRegistry,
    TurnGate,
    TurnLimits,
    TurnPass,
    TurnRefusal,
)
from application.common.ports import RateLimiter


class StepwiseTurnGate(TurnGate):
    def __init__(
        self, limiter: ConcurrencyLimiter, rate: RateLimiter, registry: TaskRegistry
    ) -> None:
        self._limiter = limiter
        self._rate = rate
        self._registry = registry

    async def enter(self, limits: TurnLimits) -> TurnPass | TurnRefusal:
        async with AsyncExitStack() as undo:
            lease = await self._limiter.acquire(limits.slot_key, limits.slots, limits.lease_seconds)
            if lease is None:
                return TurnRefusal(slot_taken=True)
            undo.push_async_callback(self._limiter.release, lease)
            decision = await self._rate.hit(
                limits.rate_key, limits.rate_limit, limits.rate_window_seconds
            )
            if not decision.allowed:
                return TurnRefusal(slot_taken=False, retry_after=decision.retry_after)
            watch = await self._registry.start(limits.task, limits.task_ttl_seconds)
            undo.pop_all()
        return TurnPass(lease, watch)

    async def leave(self, passed: TurnPass) -> None:
        try:
            await self._limiter.release(passed.lease)
        finally:
            await self._registry.finish(passed.watch)
