"""Building the one Redis client the service shares, with timeouts that fail fast."""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from domain.errors import Unavailable

logger = logging.getLogger("astra.redis")


def create_redis(url: str) -> Redis:
    """A pooled client for `url`; nothing connects until the first command.

    Short timeouts and a single quick retry: a request waiting on a dead Redis should turn into
    a 503 within about two seconds rather than hang.
    """
    return Redis.from_url(
        url,
        socket_connect_timeout=1.5,
        socket_timeout=1.5,
        socket_keepalive=True,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=1),
        decode_responses=True,
    )


async def ping(client: Redis) -> None:
    """Return when Redis answers; raise `Unavailable` when it does not (readiness probes)."""
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        raise unavailable("redis", exc) from exc


def unavailable(what: str, exc: BaseException) -> Unavailable:
    """The error a Redis-backed port raises when Redis cannot answer."""
    logger.warning("%s: redis call failed: %s", what, type(exc).__name__)
    return Unavailable(f"{what} unavailable", retry_after=1)
