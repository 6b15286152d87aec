"""A per-process read-through cache: short TTL, least recently used out, one load per miss."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _whole_key(key: Hashable) -> Hashable:
    return key


class ReadThroughCache(Generic[K, V]):
    """Remembers each key's loaded value for at most `ttl_seconds`.

    - Concurrent misses for one key share a single load, so an entry expiring under load
      sends one read to the database, not all of them.
    - A load that raced with an invalidation is not stored, so it cannot resurrect old data;
      nor is it shared with callers that come after the invalidation (they load afresh), so
      no caller that starts after an invalidation returns sees what it invalidated.
    - Keys belong to a group (`group_of`, the key itself by default) so that everything of,
      say, one tenant can be dropped at once without scanning the whole cache.
    - Values are shared between callers: treat them as read-only.
    """

    def __init__(
        self,
        ttl_seconds: float = 1.0,
        max_entries: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
        group_of: Callable[[K], Hashable] = _whole_key,
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._monotonic = monotonic
        self._group_of = group_of
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._groups: dict[Hashable, set[K]] = {}
        self._in_flight: dict[K, asyncio.Future[V]] = {}
        self._generation = 0

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        now = self._monotonic()
        cached = self._entries.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        pending = self._in_flight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        generation = self._generation
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # waiters re-raise it; don't also report it as never retrieved
            raise
        finally:
            if self._in_flight.get(key) is future:
                del self._in_flight[key]
        future.set_result(value)
        if generation == self._generation:
            # Timed from before the load, so an entry is never older than the TTL says.
            self._store(key, now, value)
        return value

    def invalidate(self, keys: Iterable[K]) -> None:
        self._generation += 1
        for key in keys:
            self._drop(key)
            self._in_flight.pop(key, None)

    def invalidate_groups(self, groups: Iterable[Hashable]) -> None:
        self._generation += 1
        dropped = set(groups)
        for group in dropped:
            for key in list(self._groups.get(group, ())):
                self._drop(key)
        for key in [k for k in self._in_flight if self._group_of(k) in dropped]:
            del self._in_flight[key]

    def keys(self) -> list[K]:
        """The cached keys, least recently stored first."""
        return list(self._entries)

    def _store(self, key: K, at: float, value: V) -> None:
        self._entries[key] = (at, value)
        self._entries.move_to_end(key)
        self._groups.setdefault(self._group_of(key), set()).add(key)
        if len(self._entries) > self._max:
            oldest, _ = self._entries.popitem(last=False)
            self._forget_group_member(oldest)

    def _drop(self, key: K) -> None:
        if self._entries.pop(key, None) is not None:
            self._forget_group_member(key)

    def _forget_group_member(self, key: K) -> None:
        group = self._group_of(key)
        members = self._groups.get(group)
        if members is not None:
            members.discard(key)
            if not members:
                del self._groups[group]
