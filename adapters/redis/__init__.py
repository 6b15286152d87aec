"""Redis adapters: limits and session revocations shared by every replica."""

from adapters.redis.client import create_redis, ping
from adapters.redis.limits import RedisRateLimiter
from adapters.redis.revocations import RedisSessionRevocations

__all__ = ["RedisRateLimiter", "RedisSessionRevocations", "create_redis", "ping"]
