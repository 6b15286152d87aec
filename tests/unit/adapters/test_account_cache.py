"""The one-second account cache: hits, expiry, invalidation and racing reads."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from adapters.memory.account_cache import CachedAccountReader
from application.identity.ports import AccountReader, AccountView
from tests.fakes.factories import make_user


class CountingReader(AccountReader):
    def __init__(self, account: AccountView) -> None:
        self.account_now: AccountView | None = account
        self.calls = 0
        self.gate: asyncio.Event | None = None

    async def account(self, user_id: str) -> AccountView | None:
        self.calls += 1
        seen = self.account_now
        if self.gate is not None:
            await self.gate.wait()
        return seen


class Ticker:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def setup() -> tuple[CountingReader, CachedAccountReader, Ticker, AccountView]:
    view = AccountView.of(make_user())
    inner = CountingReader(view)
    ticker = Ticker()
    return inner, CachedAccountReader(inner, ttl_seconds=1.0, monotonic=ticker), ticker, view


async def test_repeated_reads_within_the_ttl_hit_memory() -> None:
    inner, cache, ticker, view = setup()
    assert await cache.account(view.id) == view
    ticker.now += 0.9
    assert await cache.account(view.id) == view
    assert inner.calls == 1


async def test_reads_after_the_ttl_go_to_the_source() -> None:
    inner, cache, ticker, view = setup()
    await cache.account(view.id)
    inner.account_now = replace(view, name="Renamed elsewhere")
    ticker.now += 1.0
    assert (await cache.account(view.id)).name == "Renamed elsewhere"  # type: ignore[union-attr]
    assert inner.calls == 2


async def test_local_writes_invalidate_at_once() -> None:
    inner, cache, _, view = setup()
    await cache.account(view.id)
    inner.account_now = None  # deleted
    cache.invalidate({view.id})
    assert await cache.account(view.id) is None


async def test_a_read_racing_an_invalidation_is_not_stored() -> None:
    inner, cache, _, view = setup()
    inner.gate = asyncio.Event()
    racing = asyncio.create_task(cache.account(view.id))
    await asyncio.sleep(0)
    inner.account_now = replace(view, name="New")
    cache.invalidate({view.id})
    inner.gate.set()
    assert (await racing) == view  # the racing caller still gets what it read
    inner.gate = None
    assert (await cache.account(view.id)).name == "New"  # type: ignore[union-attr]
