"""Concurrency leases in Redis: at most `limit` live leases per key, shared by every replica."""

from __future__ import annotations

import secrets

from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.redis.client import unavailable
from application.chat.ports import ConcurrencyLimiter, Lease

# Lua pieces shared with the turn gate's script (`adapters/redis/turn_gate.py`); the numbers
# are the KEYS/ARGV positions. A lease set is a sorted set (member = lease token, score =
# expiry in ms). Expiry uses the server's TIME, so replicas with skewed clocks agree on which
# leases are dead. The set's own TTL follows the longest lease in it, so an idle key
# disappears by itself.


def lease_free_lua(key: int, limit: int) -> str:
    """Drop dead leases; `lease_free` is true when fewer than the limit are live."""
    return f"""
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[{key}], '-inf', now_ms)
local lease_free = redis.call('ZCARD', KEYS[{key}]) < tonumber(ARGV[{limit}])
"""


def lease_take_lua(key: int, ttl_ms: int, token: int) -> str:
    """Add the lease (after `lease_free_lua`, which sets `now_ms`)."""
    return f"""
local lease_ttl = tonumber(ARGV[{ttl_ms}])
redis.call('ZADD', KEYS[{key}], now_ms + lease_ttl, ARGV[{token}])
if redis.call('PTTL', KEYS[{key}]) < lease_ttl then
  redis.call('PEXPIRE', KEYS[{key}], lease_ttl)
end
"""


# KEYS[1] the key's lease set; ARGV[1] limit; ARGV[2] lease ttl in ms; ARGV[3] token.
# Returns 1 when the lease was taken, else 0.
_ACQUIRE = (
    lease_free_lua(1, 1)
    + "if not lease_free then return 0 end"
    + lease_take_lua(1, 2, 3)
    + "return 1"
)

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
            taken = await self._acquire(keys=[self.key(key)], args=[limit, ttl_ms, token])
        except (RedisError, OSError) as exc:
            raise unavailable(WHAT, exc) from exc
        return Lease(key=key, token=token) if int(taken) else None

    async def renew(self, lease: Lease, ttl_seconds: int) -> bool:
        ttl_ms = max(1, ttl_seconds) * 1000
        try:
            renewed = await self._renew(keys=[self.key(lease.key)], args=[ttl_ms, lease.token])
        except (RedisError, OSError) as exc:
            raise unavailable(WHAT, exc) from exc
        return bool(int(renewed))

    async def release(self, lease: Lease) -> None:
        """Free the slot; a lease that already expired is a no-op. A failure raises
        `Unavailable`, and the lease then frees itself when its ttl runs out."""
        try:
            await self._client.zrem(self.key(lease.key), lease.token)
        except (RedisError, OSError) as exc:
            raise unavailable(WHAT, exc) from exc

    def key(self, name: str) -> str:
        """The Redis key of the lease set `name`."""
        return self._prefix + name
