"""Building the one Redis client the service shares, with timeouts that fail fast."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from domain.errors import Unavailable

logger = logging.getLogger("astra.redis")


DEFAULT_MAX_CONNECTIONS = 200
DEFAULT_POOL_TIMEOUT_SECONDS = 5.0


class _SendDeadline:
    """Enforces `socket_timeout` on sends with `asyncio.timeout`.

    redis-py wraps every send in `asyncio.wait_for` when a socket timeout is set, which on
    Python 3.11 starts a task per command; reads already use `asyncio.timeout`. This runs
    the library's own send with the timeout lifted (so it writes directly) inside one
    `asyncio.timeout`: the same deadline, no task. A send cut short disconnects, as the
    library does for any interrupted send, and surfaces as its `TimeoutError` (retried by
    the client's retry policy, as before).
    """

    socket_timeout: float | None

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        timeout = self.socket_timeout
        if not timeout:
            await super().send_packed_command(command, check_health)  # type: ignore[misc]
            return
        self.socket_timeout = None
        try:
            async with asyncio.timeout(timeout):
                await super().send_packed_command(command, check_health)  # type: ignore[misc]
        except TimeoutError:
            raise RedisTimeoutError("Timeout writing to socket") from None
        finally:
            self.socket_timeout = timeout


_DEADLINE_CLASSES: dict[type[AbstractConnection], type[Any]] = {}


def _with_send_deadline(connection_class: type[AbstractConnection]) -> type[Any]:
    """The pool's connection class (plain, TLS or Unix socket) with `_SendDeadline`."""
    if connection_class not in _DEADLINE_CLASSES:
        _DEADLINE_CLASSES[connection_class] = type(
            f"Deadline{connection_class.__name__}", (_SendDeadline, connection_class), {}
        )
    return _DEADLINE_CLASSES[connection_class]


def create_redis(
    url: str,
    *,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT_SECONDS,
) -> Redis:
    """A pooled client for `url`; nothing connects until the first command.

    Short timeouts and a single quick retry: a request waiting on a dead Redis should turn into
    a 503 within about two seconds rather than hang. A burst larger than the pool waits for a
    free connection (up to `pool_timeout`, then 503) instead of failing at once: a command
    holds a connection for well under a millisecond, so waiting is almost always shorter than
    the client's retry would be.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_timeout,
        socket_connect_timeout=1.5,
        socket_timeout=1.5,
        socket_keepalive=True,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=1),
        decode_responses=True,
    )
    pool.connection_class = _with_send_deadline(pool.connection_class)
    # `from_pool`: the client owns the pool and disconnects it when closed.
    return Redis.from_pool(pool)


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
