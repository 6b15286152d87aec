"""Fixed-window rate limits in Redis, counted atomically by a Lua script."""

from __future__ import annotations

import math

from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.redis.client import unavailable
from application.common.ports import RateDecision, RateLimiter

# KEYS[1] counter; ARGV[1] limit; ARGV[2] window in ms. Returns {allowed, pttl_ms}.
# A refused hit is not counted, so a client hammering a closed window does not extend it.
_HIT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl == -1 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    ttl = tonumber(ARGV[2])
  elseif ttl < 0 then
    ttl = tonumber(ARGV[2])
  end
  return {0, ttl}
end
count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return {1, 0}
"""

# Same answer as _HIT without counting. Returns {count, pttl_ms}.
_PEEK = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
return {count, redis.call('PTTL', KEYS[1])}
"""


class RedisRateLimiter(RateLimiter):
    """Counters under `{prefix}rl:{key}`, shared by every replica.

    Raises `Unavailable` when Redis cannot answer: refusing everyone is the caller's choice,
    not this adapter's.
    """

    def __init__(self, client: Redis, prefix: str) -> None:
        self._client = client
        self._prefix = f"{prefix}rl:"
        self._hit = client.register_script(_HIT)
        self._peek = client.register_script(_PEEK)

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        window_ms = max(1, window_seconds) * 1000
        try:
            allowed, ttl_ms = await self._hit(keys=[self._key(key)], args=[limit, window_ms])
        except (RedisError, OSError) as exc:
            raise unavailable("rate limiter", exc) from exc
        if int(allowed):
            return RateDecision(allowed=True)
        return RateDecision(allowed=False, retry_after=_seconds(int(ttl_ms)))

    async def peek(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        try:
            count, ttl_ms = await self._peek(keys=[self._key(key)])
        except (RedisError, OSError) as exc:
            raise unavailable("rate limiter", exc) from exc
        if int(count) < limit:
            return RateDecision(allowed=True)
        ttl_ms = int(ttl_ms)
        return RateDecision(
            allowed=False,
            retry_after=_seconds(ttl_ms if ttl_ms > 0 else max(1, window_seconds) * 1000),
        )

    async def reset(self, key: str) -> None:
        try:
            await self._client.delete(self._key(key))
        except (RedisError, OSError) as exc:
            raise unavailable("rate limiter", exc) from exc

    def _key(self, key: str) -> str:
        return self._prefix + key


def _seconds(ttl_ms: int) -> int:
    return max(1, math.ceil(ttl_ms / 1000))
