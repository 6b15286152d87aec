"""A per-process, one-second memory of authenticated API keys."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from application.tenancy.ports import ApiKeyCache, ApiKeyCredential

Loader = Callable[[str], Awaitable[ApiKeyCredential | None]]


class MemoryApiKeyCache(ApiKeyCache):
    """Keeps each key's credential for at most `ttl_seconds`, least recently used evicted first.

    - The short life is what makes a key deleted on another replica stop working here within
      a second; `drop` covers deletions made through this process at once.
    - A load that raced with a `drop` is not stored, so it cannot bring a deleted key back.
    - Concurrent misses for one key share a single load; unknown keys are not remembered.
    """

    def __init__(
        self,
        ttl_seconds: float = 1.0,
        max_entries: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._monotonic = monotonic
        self._entries: OrderedDict[str, tuple[float, ApiKeyCredential]] = OrderedDict()
        self._in_flight: dict[str, asyncio.Future[ApiKeyCredential | None]] = {}
        self._generation = 0

    async def get(self, key_id: str, load: Loader) -> ApiKeyCredential | None:
        now = self._monotonic()
        cached = self._entries.get(key_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        pending = self._in_flight.get(key_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[ApiKeyCredential | None] = asyncio.get_running_loop().create_future()
        self._in_flight[key_id] = future
        generation = self._generation
        try:
            credential = await load(key_id)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # waiters re-raise it; don't also report it as never retrieved
            raise
        finally:
            del self._in_flight[key_id]
        future.set_result(credential)
        if credential is None:
            self._entries.pop(key_id, None)
        elif generation == self._generation:
            # Timed from before the load, so an entry is never older than the TTL says.
            self._entries[key_id] = (now, credential)
            self._entries.move_to_end(key_id)
            if len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return credential

    def drop(self, key_id: str) -> None:
        self._generation += 1
        self._entries.pop(key_id, None)
