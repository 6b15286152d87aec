"""A per-process, one-second cache in front of an `AccountReader`."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

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
        self._ttl = ttl_seconds
        self._max = max_entries
        self._monotonic = monotonic
        self._entries: OrderedDict[str, tuple[float, AccountView | None]] = OrderedDict()
        self._generation = 0
        self._in_flight: dict[str, asyncio.Future[AccountView | None]] = {}

    async def account(self, user_id: str) -> AccountView | None:
        now = self._monotonic()
        cached = self._entries.get(user_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        pending = self._in_flight.get(user_id)
        if pending is not None:
            # When the entry expires under load, one read goes to the database, not all of them.
            return await asyncio.shield(pending)
        future: asyncio.Future[AccountView | None] = asyncio.get_running_loop().create_future()
        self._in_flight[user_id] = future
        generation = self._generation
        try:
            account = await self._inner.account(user_id)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # waiters re-raise it; don't also report it as never retrieved
            raise
        finally:
            del self._in_flight[user_id]
        future.set_result(account)
        if generation == self._generation:
            self._entries[user_id] = (now, account)
            self._entries.move_to_end(user_id)
            if len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return account

    def invalidate(self, user_ids: Iterable[str]) -> None:
        self._generation += 1
        for user_id in user_ids:
            self._entries.pop(user_id, None)
