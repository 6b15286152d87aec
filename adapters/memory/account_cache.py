"""A per-process, one-second cache in front of an `AccountReader`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from adapters.memory.read_cache import ReadThroughCache
from application.identity.ports import AccountReader, AccountView


class CachedAccountReader(AccountReader):
    """Serves repeated reads of the same account from memory for at most `ttl_seconds`.

    - Writes made through this process invalidate at once (the unit of work announces the
      user ids it committed), so a caller always reads its own writes on the same replica.
    - Writes made on another replica are seen within `ttl_seconds` (the same bound as session
      revocation); sessions are checked separately on every request, so a deleted or
      signed-out user is refused regardless of this cache.
    - A read that raced with an invalidation is not stored, so it cannot resurrect old data.
    - Concurrent misses for one account share a single read.
    """

    def __init__(
        self,
        inner: AccountReader,
        ttl_seconds: float = 1.0,
        max_entries: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._cache: ReadThroughCache[str, AccountView | None] = ReadThroughCache(
            ttl_seconds, max_entries, monotonic
        )

    async def account(self, user_id: str) -> AccountView | None:
        return await self._cache.get(user_id, lambda: self._inner.account(user_id))

    def invalidate(self, user_ids: Iterable[str]) -> None:
        self._cache.invalidate(user_ids)
