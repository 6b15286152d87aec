"""Dict-backed rate limiter and revocation list that follow a test clock."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from application.common.ports import Clock, RateDecision, RateLimiter
from application.identity.ports import SessionRevocations
from domain.errors import Unavailable


class FakeRateLimiter(RateLimiter):
    """Fixed windows that open at a key's first hit, like INCR + EXPIRE in Redis."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[datetime, int]] = {}

    def _current(self, key: str, window_seconds: int) -> tuple[datetime, int]:
        now = self._clock.now()
        start, count = self._windows.get(key, (now, 0))
        if now >= start + timedelta(seconds=window_seconds):
            start, count = now, 0
        return start, count

    def _refusal(self, start: datetime, window_seconds: int) -> RateDecision:
        left = start + timedelta(seconds=window_seconds) - self._clock.now()
        return RateDecision(allowed=False, retry_after=max(1, math.ceil(left.total_seconds())))

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        start, count = self._current(key, window_seconds)
        if count >= limit:
            return self._refusal(start, window_seconds)
        self._windows[key] = (start, count + 1)
        return RateDecision(allowed=True)

    async def peek(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        start, count = self._current(key, window_seconds)
        if count >= limit:
            return self._refusal(start, window_seconds)
        return RateDecision(allowed=True)

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    def count(self, key: str) -> int:
        return self._windows.get(key, (self._clock.now(), 0))[1]


class FakeSessionRevocations(SessionRevocations):
    """Remembers revoked ids until their TTL passes; records every call.

    `down = True` makes `revoke` fail as Redis being unreachable does.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._until: dict[str, datetime] = {}
        self.calls: list[tuple[list[str], int]] = []
        self.down = False

    async def revoke(self, session_ids: list[str], ttl_seconds: int) -> None:
        if self.down:
            raise Unavailable("session revocations unavailable", retry_after=1)
        self.calls.append((list(session_ids), ttl_seconds))
        until = self._clock.now() + timedelta(seconds=ttl_seconds)
        for session_id in session_ids:
            self._until[session_id] = until

    async def is_revoked(self, session_id: str) -> bool:
        until = self._until.get(session_id)
        return until is not None and self._clock.now() < until

    @property
    def revoked_ids(self) -> set[str]:
        return {sid for ids, _ in self.calls for sid in ids}
