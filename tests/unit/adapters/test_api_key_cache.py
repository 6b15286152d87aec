"""The one-second, per-process API key cache."""

from __future__ import annotations

import asyncio

import pytest

from adapters.memory.api_key_cache import MemoryApiKeyCache
from application.tenancy.ports import ApiKeyCredential
from domain.tenancy.policy import Scope
from tests.fakes.api_keys import FakeMonotonic


def credential(key_id: str = "k1") -> ApiKeyCredential:
    return ApiKeyCredential(key_id, "tenant", frozenset({Scope.CHAT_WRITE}), "hash", None)


class CountingLoader:
    """Answers from `known`; can be held open on `gate` to make loads overlap."""

    def __init__(self, *known: ApiKeyCredential) -> None:
        self.known = {item.key_id: item for item in known}
        self.calls = 0
        self.gate: asyncio.Event | None = None
        self.error: Exception | None = None

    async def __call__(self, key_id: str) -> ApiKeyCredential | None:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return self.known.get(key_id)


async def test_serves_a_key_from_memory_for_up_to_a_second() -> None:
    clock = FakeMonotonic()
    cache = MemoryApiKeyCache(monotonic=clock)
    load = CountingLoader(credential())

    assert await cache.get("k1", load) == credential()
    clock.now += 0.999
    assert await cache.get("k1", load) == credential()
    assert load.calls == 1
    clock.now += 0.001
    await cache.get("k1", load)
    assert load.calls == 2


async def test_unknown_keys_are_not_remembered() -> None:
    cache = MemoryApiKeyCache(monotonic=FakeMonotonic())
    load = CountingLoader()
    assert await cache.get("nope", load) is None
    assert await cache.get("nope", load) is None
    assert load.calls == 2


async def test_drop_forgets_a_key_at_once() -> None:
    cache = MemoryApiKeyCache(monotonic=FakeMonotonic())
    load = CountingLoader(credential())
    await cache.get("k1", load)
    cache.drop("k1")
    del load.known["k1"]
    assert await cache.get("k1", load) is None


async def test_concurrent_misses_share_one_load() -> None:
    cache = MemoryApiKeyCache(monotonic=FakeMonotonic())
    load = CountingLoader(credential())
    load.gate = asyncio.Event()
    waiting = [asyncio.create_task(cache.get("k1", load)) for _ in range(10)]
    await asyncio.sleep(0)
    load.gate.set()
    assert await asyncio.gather(*waiting) == [credential()] * 10
    assert load.calls == 1


async def test_a_load_that_raced_with_a_drop_is_not_stored() -> None:
    cache = MemoryApiKeyCache(monotonic=FakeMonotonic())
    load = CountingLoader(credential())
    load.gate = asyncio.Event()
    loading = asyncio.create_task(cache.get("k1", load))
    await asyncio.sleep(0)
    cache.drop("k1")  # deleted while the old row was being read
    load.gate.set()
    assert await loading == credential()

    load.gate = None
    del load.known["k1"]
    assert await cache.get("k1", load) is None


async def test_a_failed_load_reaches_every_waiter_and_is_not_stored() -> None:
    cache = MemoryApiKeyCache(monotonic=FakeMonotonic())
    load = CountingLoader(credential())
    load.gate = asyncio.Event()
    load.error = RuntimeError("database down")
    waiting = [asyncio.create_task(cache.get("k1", load)) for _ in range(3)]
    await asyncio.sleep(0)
    load.gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(result, RuntimeError) for result in results)

    load.error = None
    load.gate = None
    assert await cache.get("k1", load) == credential()
    assert load.calls == 2


async def test_the_least_recently_used_key_is_evicted_beyond_the_limit() -> None:
    cache = MemoryApiKeyCache(max_entries=2, monotonic=FakeMonotonic())
    load = CountingLoader(credential("a"), credential("b"), credential("c"))
    for key_id in ("a", "b", "c"):
        await cache.get(key_id, load)
    assert load.calls == 3
    await cache.get("c", load)
    await cache.get("b", load)
    assert load.calls == 3
    await cache.get("a", load)
    assert load.calls == 4


@pytest.mark.parametrize("ttl", [0.25, 2.0])
async def test_the_lifetime_is_configurable(ttl: float) -> None:
    clock = FakeMonotonic()
    cache = MemoryApiKeyCache(ttl_seconds=ttl, monotonic=clock)
    load = CountingLoader(credential())
    await cache.get("k1", load)
    clock.now += ttl
    await cache.get("k1", load)
    assert load.calls == 2
