"""A per-process cache in front of a `SessionDirectory`: one database read per session and
minute, not one per request."""

from __future__ import annotations

import time
from collections.abc import Callable

from adapters.memory.read_cache import ReadThroughCache
from application.identity.ports import SessionDirectory


class CachedSessionDirectory(SessionDirectory):
    """Remembers each answer for `ttl_seconds`; safe to cache either way:

    - "not open" never becomes "open": a session id exists before any token naming it.
    - "open" becomes "closed" only by a revocation (logout, password change, deletion), which
      is announced first and checked on every request before this.
    """

    def __init__(
        self,
        inner: SessionDirectory,
        ttl_seconds: float = 60.0,
        max_entries: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._cache: ReadThroughCache[str, bool] = ReadThroughCache(
            ttl_seconds, max_entries, monotonic
        )

    async def is_open(self, session_id: str) -> bool:
        return await self._cache.get(session_id, lambda: self._inner.is_open(session_id))
