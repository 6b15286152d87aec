"""Revoked session ids in Redis, with a sub-second local cache of the answers."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.memory.read_cache import ReadThroughCache
from adapters.redis.client import unavailable
from adapters.security.clock import SystemClock
from application.common.ports import Clock
from application.identity.ports import SessionRevocations

DEFAULT_CACHE_ENTRIES = 100_000


class RedisSessionRevocations(SessionRevocations):
    """Keys `{prefix}revoked:{session_id}` that expire with the longest token lifetime.

    Every authenticated request asks `is_revoked`, so answers are cached in process for
    `local_cache_seconds`, and concurrent lookups of one session share one Redis read (when
    an entry expires under load, one request asks, not all of them). Another replica's
    revocation is seen within that time; one made through this instance at once, because it
    drops its entries and the lookups in flight first. A cached "revoked" cannot go stale:
    a revocation is never undone.
    """

    def __init__(
        self,
        client: Redis,
        prefix: str,
        local_cache_seconds: float = 1.0,
        *,
        clock: Clock | None = None,
        max_cache_entries: int = DEFAULT_CACHE_ENTRIES,
    ) -> None:
        self._client = client
        self._prefix = f"{prefix}revoked:"
        clock = clock or SystemClock()
        self.cache: ReadThroughCache[str, bool] = ReadThroughCache(
            local_cache_seconds, max_cache_entries, lambda: clock.now().timestamp()
        )

    async def revoke(self, session_ids: list[str], ttl_seconds: int) -> None:
        if not session_ids:
            return
        self.cache.invalidate(session_ids)
        ttl = max(1, ttl_seconds)
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for session_id in session_ids:
                    pipe.set(self._key(session_id), "1", ex=ttl)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise unavailable("session revocations", exc) from exc
        finally:
            # Lookups that started while the write was in flight may have read the old state.
            self.cache.invalidate(session_ids)

    async def is_revoked(self, session_id: str) -> bool:
        return await self.cache.get(session_id, lambda: self._read(session_id))

    async def _read(self, session_id: str) -> bool:
        try:
            return bool(await self._client.exists(self._key(session_id)))
        except (RedisError, OSError) as exc:
            raise unavailable("session revocations", exc) from exc

    def _key(self, session_id: str) -> str:
        return self._prefix + session_id
