"""Concurrency leases kept in process memory (embedded mode, one replica)."""

from __future__ import annotations

import secrets

from application.chat.ports import ConcurrencyLimiter, Lease
from application.common.ports import Clock


class MemoryConcurrencyLimiter(ConcurrencyLimiter):
    """Same semantics as `RedisConcurrencyLimiter`: at most `limit` live leases per key, each
    expiring `ttl_seconds` after it was taken or last renewed (by `clock`) unless released
    first."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # key -> lease token -> expiry (epoch seconds). No await inside a method: each call is
        # atomic on the event loop.
        self._leases: dict[str, dict[str, float]] = {}

    async def acquire(self, key: str, limit: int, ttl_seconds: int) -> Lease | None:
        now = self._clock.now().timestamp()
        live = {t: exp for t, exp in self._leases.get(key, {}).items() if exp > now}
        if len(live) >= limit:
            self._store(key, live)
            return None
        token = secrets.token_hex(16)
        live[token] = now + max(1, ttl_seconds)
        self._store(key, live)
        return Lease(key=key, token=token)

    async def renew(self, lease: Lease, ttl_seconds: int) -> bool:
        now = self._clock.now().timestamp()
        leases = self._leases.get(lease.key, {})
        if leases.get(lease.token, 0.0) <= now:
            return False
        leases[lease.token] = now + max(1, ttl_seconds)
        return True

    async def release(self, lease: Lease) -> None:
        leases = self._leases.get(lease.key)
        if leases is None:
            return
        leases.pop(lease.token, None)
        if not leases:
            del self._leases[lease.key]

    def _store(self, key: str, live: dict[str, float]) -> None:
        # Keys without live leases are dropped, so idle users do not pile up.
        if live:
            self._leases[key] = live
        else:
            self._leases.pop(key, None)
