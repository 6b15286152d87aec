"""Fixed-window rate limits kept in process memory (embedded mode, one replica)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from application.common.ports import Clock, RateDecision, RateLimiter

# Expired windows are swept this often (in hits) so idle keys do not pile up forever.
SWEEP_EVERY = 1024


@dataclass(slots=True)
class _Window:
    count: int
    ends_at: float


class MemoryRateLimiter(RateLimiter):
    """Same semantics as `RedisRateLimiter`: a window opens at its first hit and lasts
    `window_seconds`; refused hits are not counted."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self._hits_since_sweep = 0

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        now = self._now()
        self._maybe_sweep(now)
        window = self._live_window(key, now)
        if window is None:
            if limit <= 0:
                return RateDecision(allowed=False, retry_after=max(1, window_seconds))
            window = _Window(count=0, ends_at=now + window_seconds)
            self._windows[key] = window
        if window.count >= limit:
            return RateDecision(allowed=False, retry_after=_retry_after(window, now))
        window.count += 1
        return RateDecision(allowed=True)

    async def peek(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        now = self._now()
        window = self._live_window(key, now)
        count = window.count if window else 0
        if count < limit:
            return RateDecision(allowed=True)
        retry_after = _retry_after(window, now) if window else max(1, window_seconds)
        return RateDecision(allowed=False, retry_after=retry_after)

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _live_window(self, key: str, now: float) -> _Window | None:
        window = self._windows.get(key)
        if window is not None and now >= window.ends_at:
            del self._windows[key]
            return None
        return window

    def _maybe_sweep(self, now: float) -> None:
        self._hits_since_sweep += 1
        if self._hits_since_sweep < SWEEP_EVERY:
            return
        self._hits_since_sweep = 0
        expired = [key for key, window in self._windows.items() if now >= window.ends_at]
        for key in expired:
            del self._windows[key]


def _retry_after(window: _Window, now: float) -> int:
    return max(1, math.ceil(window.ends_at - now))
