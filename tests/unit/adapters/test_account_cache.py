"""The one-second account cache: hits, expiry, invalidation and racing reads."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

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


async def test_concurrent_misses_share_one_read() -> None:
    inner, cache, _, view = setup()
    inner.gate = asyncio.Event()
    readers = [asyncio.create_task(cache.account(view.id)) for _ in range(20)]
    await asyncio.sleep(0)
    inner.gate.set()
    assert await asyncio.gather(*readers) == [view] * 20
    assert inner.calls == 1


async def test_a_failed_read_fails_every_waiter_and_is_not_cached() -> None:
    view = AccountView.of(make_user())

    class Broken(AccountReader):
        calls = 0

        async def account(self, user_id: str) -> AccountView | None:
            Broken.calls += 1
            await asyncio.sleep(0)
            raise ConnectionError("database down")

    cache = CachedAccountReader(Broken())
    results = await asyncio.gather(
        *(cache.account(view.id) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(result, ConnectionError) for result in results)
    assert Broken.calls == 1
    with pytest.raises(ConnectionError):
        await cache.account(view.id)
    assert Broken.calls == 2


async def test_a_read_after_an_invalidation_does_not_join_the_stale_load() -> None:
    """Linearizable: whoever asks after `invalidate` returned sees nothing older."""
    inner, cache, _, view = setup()
    inner.gate = asyncio.Event()
    stale = asyncio.create_task(cache.account(view.id))
    await asyncio.sleep(0)  # the first load is in flight, holding the old account
    inner.account_now = replace(view, name="New")
    cache.invalidate({view.id})
    inner.gate.set()
    inner.gate = None
    fresh = await cache.account(view.id)
    assert fresh is not None
    assert fresh.name == "New"
    assert (await stale) == view
    assert inner.calls == 2
