"""Fixed-window rate limits in Redis, counted atomically by a Lua script."""

from __future__ import annotations

import math

from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.redis.client import unavailable
from application.common.ports import RateDecision, RateLimiter


def rate_hit_lua(key: int, limit: int, window_ms: int) -> str:
    """Count one hit on the counter unless it is at the limit; `rate_refused_ms` is then how
    long the window still runs (else nil). Shared with the turn gate's script; the numbers
    are KEYS/ARGV positions. A refused hit is not counted, so a client hammering a closed
    window does not extend it."""
    return f"""
local rate_refused_ms = nil
local count = tonumber(redis.call('GET', KEYS[{key}]) or '0')
if count >= tonumber(ARGV[{limit}]) then
  rate_refused_ms = redis.call('PTTL', KEYS[{key}])
  if rate_refused_ms == -1 then
    redis.call('PEXPIRE', KEYS[{key}], ARGV[{window_ms}])
    rate_refused_ms = tonumber(ARGV[{window_ms}])
  elseif rate_refused_ms < 0 then
    rate_refused_ms = tonumber(ARGV[{window_ms}])
  end
else
  count = redis.call('INCR', KEYS[{key}])
  if count == 1 or redis.call('PTTL', KEYS[{key}]) == -1 then
    redis.call('PEXPIRE', KEYS[{key}], ARGV[{window_ms}])
  end
end
"""


# KEYS[1] counter; ARGV[1] limit; ARGV[2] window in ms. Returns {allowed, pttl_ms}.
_HIT = (
    rate_hit_lua(1, 1, 2) + "if rate_refused_ms then return {0, rate_refused_ms} end\nreturn {1, 0}"
)

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
            allowed, ttl_ms = await self._hit(keys=[self.key(key)], args=[limit, window_ms])
        except (RedisError, OSError) as exc:
            raise unavailable("rate limiter", exc) from exc
        if int(allowed):
            return RateDecision(allowed=True)
        return RateDecision(allowed=False, retry_after=_seconds(int(ttl_ms)))

    async def peek(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        try:
            count, ttl_ms = await self._peek(keys=[self.key(key)])
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
            await self._client.delete(self.key(key))
        except (RedisError, OSError) as exc:
            raise unavailable("rate limiter", exc) from exc

    def key(self, name: str) -> str:
        """The Redis key of the counter `name`."""
        return self._prefix + name


def _seconds(ttl_ms: int) -> int:
    return max(1, math.ceil(ttl_ms / 1000))
