"""The one-second agent cache: per-tenant invalidation, expiry and racing reads."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from adapters.memory.agent_cache import CachedAgentReader
from adapters.memory.agents import AgentStore, InMemoryAgentReader
from application.agents.ports import AgentProfile, AgentReader
from domain.agents.models import Agent
from tests.integration.sql.agent_factories import make_agent, make_config_version


class GatedReader(AgentReader):
    """Reads an `AgentStore`, counting calls; a set `gate` holds reads until it opens."""

    def __init__(self, store: AgentStore) -> None:
        self.inner = InMemoryAgentReader(store)
        self.calls = 0
        self.gate: asyncio.Event | None = None

    async def list_agents(self, tenant_id: str) -> list[Agent]:
        self.calls += 1
        found = await self.inner.list_agents(tenant_id)
        if self.gate is not None:
            await self.gate.wait()
        return found

    async def profile(self, tenant_id: str, agent_id: str) -> AgentProfile | None:
        self.calls += 1
        found = await self.inner.profile(tenant_id, agent_id)
        if self.gate is not None:
            await self.gate.wait()
        return found


class Ticker:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def add_agent(store: AgentStore, tenant_id: str) -> Agent:
    agent = make_agent(tenant_id)
    store.agents[agent.id] = replace(agent)  # a copy: tests change the stored one
    version = make_config_version(tenant_id, agent.id)
    store.configs[version.id] = version
    return agent


def setup() -> tuple[AgentStore, GatedReader, CachedAgentReader, Ticker]:
    store = AgentStore()
    inner = GatedReader(store)
    ticker = Ticker()
    return store, inner, CachedAgentReader(inner, ttl_seconds=1.0, monotonic=ticker), ticker


async def test_invalidating_a_tenant_drops_its_lists_and_profiles_only() -> None:
    store, inner, cache, _ = setup()
    mine, theirs = add_agent(store, "tenant-a"), add_agent(store, "tenant-b")
    for tenant_id, agent in (("tenant-a", mine), ("tenant-b", theirs)):
        await cache.list_agents(tenant_id)
        await cache.profile(tenant_id, agent.id)
    assert inner.calls == 4

    store.agents[mine.id].name = "Renamed"
    store.agents[theirs.id].name = "Renamed too"
    cache.invalidate({"tenant-a"})

    assert (await cache.list_agents("tenant-a"))[0].name == "Renamed"
    profile = await cache.profile("tenant-a", mine.id)
    assert profile is not None
    assert profile.agent.name == "Renamed"
    assert (await cache.list_agents("tenant-b"))[0].name == theirs.name  # still cached
    assert inner.calls == 6


async def test_entries_expire_after_the_ttl() -> None:
    store, inner, cache, ticker = setup()
    agent = add_agent(store, "tenant-a")
    assert await cache.profile("tenant-a", agent.id) is not None
    del store.agents[agent.id]
    ticker.now += 0.99
    assert await cache.profile("tenant-a", agent.id) is not None
    ticker.now += 0.01
    assert await cache.profile("tenant-a", agent.id) is None
    assert inner.calls == 2


async def test_a_read_that_raced_an_invalidation_is_not_kept() -> None:
    store, inner, cache, _ = setup()
    agent = add_agent(store, "tenant-a")
    inner.gate = asyncio.Event()
    slow = asyncio.create_task(cache.list_agents("tenant-a"))
    await asyncio.sleep(0)
    store.agents[agent.id].name = "Renamed"
    cache.invalidate({"tenant-a"})
    inner.gate.set()
    assert (await slow)[0].name == agent.name  # read before the write

    assert (await cache.list_agents("tenant-a"))[0].name == "Renamed"
    assert inner.calls == 2


async def test_concurrent_misses_share_one_read() -> None:
    _, inner, cache, _ = setup()
    inner.gate = asyncio.Event()
    readers = [asyncio.create_task(cache.list_agents("tenant-a")) for _ in range(10)]
    await asyncio.sleep(0)
    inner.gate.set()
    assert await asyncio.gather(*readers) == [[]] * 10
    assert inner.calls == 1
