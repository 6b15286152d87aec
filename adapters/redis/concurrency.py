"""Concurrency leases in Redis: at most `limit` live leases per key, shared by every replica."""

from __future__ import annotations

import secrets

from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.redis.client import unavailable
from application.chat.ports import ConcurrencyLimiter, Lease

# KEYS[1] the key's sorted set (member = lease token, score = expiry in ms); ARGV[1] limit;
# ARGV[2] lease ttl in ms; ARGV[3] token. Returns 1 when the lease was taken, else 0.
# Expiry uses the server's TIME, so replicas with skewed clocks agree on which leases are dead.
# The set's own TTL follows the longest lease in it, so an idle key disappears by itself.
_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now_ms + ttl, ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
"""

# KEYS[1] the key's sorted set; ARGV[1] lease ttl in ms; ARGV[2] token. Returns 1 when the
# live lease was pushed to now + ttl, 0 when it had expired or was released (not revived:
# its slot may belong to someone else by now).
_RENEW = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not score or tonumber(score) <= now_ms then
  return 0
end
local ttl = tonumber(ARGV[1])
redis.call('ZADD', KEYS[1], 'XX', now_ms + ttl, ARGV[2])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
"""

WHAT = "rate limiting"


class RedisConcurrencyLimiter(ConcurrencyLimiter):
    """Leases under `{prefix}conc:{key}`; Redis unreachable → `Unavailable` (fail closed)."""

    def __init__(self, client: Redis, prefix: str) -> None:
        self._client = client
        self._prefix = f"{prefix}conc:"
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)

    async def acquire(self, key: str, limit: int, ttl_seconds: int) -> Lease | None:
        if limit <= 0:
            return None
        token = secrets.token_hex(16)
        ttl_ms = max(1, ttl_seconds) * 1000
        try:
            taken = await self._acquire(keys=[self._key(key)], args=[limit, ttl_ms, token])
        except (RedisError, OSError) as exc:
            raise unavailable(WHAT, exc) from exc
        return Lease(key=key, token=token) if int(taken) else None

    async def renew(self, lease: Lease, ttl_seconds: int) -> bool:
        ttl_ms = max(1, ttl_seconds) * 1000
        try:
            renewed = await self._renew(keys=[self._key(lease.key)], args=[ttl_ms, lease.token])
        except (RedisError, OSError) as exc:
            raise unavailable(WHAT, exc) from exc
        return bool(int(renewed))

    async def release(self, lease: Lease) -> None:
        """Free the slot; a lease that already expired is a no-op. A failure raises
        `Unavailable`, and the lease then frees itself when its ttl runs out."""
        try:
            await self._client.zrem(self._key(lease.key), lease.token)
        except (RedisError, OSError) as exc:
            raise unavailable(WHAT, exc) from exc

    def _key(self, key: str) -> str:
        return self._prefix + key
