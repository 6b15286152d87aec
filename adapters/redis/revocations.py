"""Revoked session ids in Redis, with a sub-second local cache of "not revoked" answers."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.redis.client import unavailable
from adapters.security.clock import SystemClock
from application.common.ports import Clock
from application.identity.ports import SessionRevocations

DEFAULT_CACHE_ENTRIES = 100_000


class RedisSessionRevocations(SessionRevocations):
    """Keys `{prefix}revoked:{session_id}` that expire with the longest token lifetime.

    Every authenticated request asks `is_revoked`, so "not revoked" answers are cached in
    process for `local_cache_seconds`: another replica's revocation is seen within that time,
    and one made through this instance is seen at once because it drops its cache entries.
    Only negative answers are cached; a revocation never becomes stale in the unsafe direction
    by more than `local_cache_seconds`.
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
        self._cache_seconds = local_cache_seconds
        self._clock = clock or SystemClock()
        self._max_entries = max_cache_entries
        # session id -> time until which "not revoked" may be trusted; insertion-ordered,
        # so the first key is the oldest entry.
        self._not_revoked_until: dict[str, float] = {}
        # Bumped by every revoke so a lookup that raced with it does not cache a stale "no".
        self._generation = 0

    async def revoke(self, session_ids: list[str], ttl_seconds: int) -> None:
        if not session_ids:
            return
        self._generation += 1
        for session_id in session_ids:
            self._not_revoked_until.pop(session_id, None)
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
            self._generation += 1

    async def is_revoked(self, session_id: str) -> bool:
        now = self._now()
        trusted_until = self._not_revoked_until.get(session_id)
        if trusted_until is not None and now < trusted_until:
            return False
        generation = self._generation
        try:
            revoked = bool(await self._client.exists(self._key(session_id)))
        except (RedisError, OSError) as exc:
            raise unavailable("session revocations", exc) from exc
        if not revoked and generation == self._generation:
            self._remember_not_revoked(session_id, now + self._cache_seconds)
        return revoked

    def _remember_not_revoked(self, session_id: str, until: float) -> None:
        if self._cache_seconds <= 0 or self._max_entries <= 0:
            return
        self._not_revoked_until.pop(session_id, None)
        while len(self._not_revoked_until) >= self._max_entries:
            del self._not_revoked_until[next(iter(self._not_revoked_until))]
        self._not_revoked_until[session_id] = until

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _key(self, session_id: str) -> str:
        return self._prefix + session_id
