"""The agents read model, its cache and the agent counter, on both databases."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.memory.agent_cache import CachedAgentReader
from adapters.payments.local import LocalPaymentProvider
from adapters.sql.agents.reader import SqlAgentCounter, SqlAgentReader
from adapters.sql.uow import SqlUnitOfWorkFactory
from application.agents.ports import AgentProfile, AgentReader
from application.billing.subscriptions import BillingPolicy
from application.common.caller import Caller
from domain.agents.models import Agent
from entrypoints.billing_wiring import wire_billing
from tests.fakes.clock import FixedClock
from tests.fakes.ids import SequentialIds
from tests.integration.sql.agent_factories import (
    later,
    make_agent,
    make_config_version,
    make_intention,
    make_lead,
)
from tests.integration.sql.factories import make_tenant, new_id


class Ticker:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingReader(AgentReader):
    """Counts the reads that reach the database."""

    def __init__(self, inner: AgentReader) -> None:
        self.inner = inner
        self.calls = 0

    async def list_agents(self, tenant_id: str) -> list[Agent]:
        self.calls += 1
        return await self.inner.list_agents(tenant_id)

    async def profile(self, tenant_id: str, agent_id: str) -> AgentProfile | None:
        self.calls += 1
        return await self.inner.profile(tenant_id, agent_id)


async def new_tenant(uow_factory: SqlUnitOfWorkFactory) -> str:
    tenant = make_tenant()
    async with uow_factory() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    return tenant.id


async def new_agent(
    uow_factory: SqlUnitOfWorkFactory, tenant_id: str, **overrides: object
) -> Agent:
    """A committed agent with its first config."""
    agent = make_agent(tenant_id, **overrides)
    async with uow_factory() as uow:
        await uow.agents.add(agent)
        await uow.agent_configs.add(make_config_version(tenant_id, agent.id, version=1))
        await uow.commit()
    return agent


async def test_lists_a_tenants_committed_agents_oldest_first(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    tenant_id, other_tenant = await new_tenant(uow_factory), await new_tenant(uow_factory)
    newer = await new_agent(uow_factory, tenant_id, created_at=later(60))
    older = await new_agent(uow_factory, tenant_id, created_at=later(0))
    await new_agent(uow_factory, other_tenant)
    async with uow_factory() as uow:
        await uow.agents.add(make_agent(tenant_id))  # never committed

    assert await SqlAgentReader(engine).list_agents(tenant_id) == [older, newer]


async def test_a_profile_has_the_current_config_and_the_enabled_intentions_in_order(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    tenant_id = await new_tenant(uow_factory)
    agent = await new_agent(uow_factory, tenant_id)
    current = make_config_version(tenant_id, agent.id, version=2, model_known=False)
    low = make_intention(tenant_id, agent.id, priority=1, created_at=later(0))
    high = make_intention(tenant_id, agent.id, priority=7, created_at=later(5))
    off = make_intention(tenant_id, agent.id, priority=9, enabled=False)
    async with uow_factory() as uow:
        await uow.agent_configs.add(current)
        for intention in (low, off, high):
            await uow.intentions.add(intention)
        await uow.commit()

    profile = await SqlAgentReader(engine).profile(tenant_id, agent.id)

    assert profile == AgentProfile(agent=agent, config=current, intentions=[high, low])


async def test_unknown_foreign_or_configless_agents_have_no_profile(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    tenant_id = await new_tenant(uow_factory)
    agent = await new_agent(uow_factory, tenant_id)
    configless = make_agent(tenant_id)
    async with uow_factory() as uow:
        await uow.agents.add(configless)
        await uow.commit()
    reader = SqlAgentReader(engine)

    assert await reader.profile(tenant_id, "no-such-agent") is None
    assert await reader.profile(await new_tenant(uow_factory), agent.id) is None
    assert await reader.profile(tenant_id, configless.id) is None


async def test_the_counter_counts_committed_agents_per_tenant(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    tenant_id = await new_tenant(uow_factory)
    for _ in range(3):
        await new_agent(uow_factory, tenant_id)
    counter = SqlAgentCounter(engine)

    assert await counter.count(tenant_id) == 3
    assert await counter.count(await new_tenant(uow_factory)) == 0


async def test_current_usage_reports_the_agent_count_against_the_plan(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    tenant_id = await new_tenant(uow_factory)
    await new_agent(uow_factory, tenant_id)
    await new_agent(uow_factory, tenant_id)
    clock = FixedClock()
    billing = wire_billing(
        uow=uow_factory,
        clock=clock,
        ids=SequentialIds(f"grant-{tenant_id}"),
        policy=BillingPolicy(trial_days=14),
        agents=SqlAgentCounter(engine),
        payment_provider=lambda catalog: LocalPaymentProvider(
            uow_factory, clock, catalog, "http://astra.test", "page-secret"
        ),
        billing_return_url="http://app.test/billing",
    )

    lines = await billing.current_usage(Caller.internal(), tenant_id)

    used = {line.category.value: line.used_amount for line in lines}
    assert used["USAGE_AI_AGENT"] == 2


async def test_the_writing_process_reads_its_own_agent_writes_at_once(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ticker = Ticker()
    counting = CountingReader(SqlAgentReader(engine))
    cache = CachedAgentReader(counting, ttl_seconds=1.0, monotonic=ticker)
    here = SqlUnitOfWorkFactory(sessionmaker, on_agents_commit=cache.invalidate)
    tenant_id = await new_tenant(here)
    agent = await new_agent(here, tenant_id)
    assert await cache.list_agents(tenant_id) == [agent]
    assert (await cache.profile(tenant_id, agent.id)) is not None
    assert await cache.list_agents(tenant_id) == [agent]
    assert counting.calls == 2  # the repeated list came from memory

    renamed = make_agent(tenant_id, id=agent.id, name="Renamed", created_at=agent.created_at)
    intention = make_intention(tenant_id, agent.id)
    async with here() as uow:
        await uow.agents.update(renamed)
        await uow.intentions.add(intention)
        await uow.commit()

    assert [a.name for a in await cache.list_agents(tenant_id)] == ["Renamed"]
    profile = await cache.profile(tenant_id, agent.id)
    assert profile is not None
    assert profile.intentions == [intention]


async def test_another_replicas_writes_show_once_the_ttl_has_passed(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    ticker = Ticker()
    cache = CachedAgentReader(SqlAgentReader(engine), ttl_seconds=1.0, monotonic=ticker)
    tenant_id = await new_tenant(uow_factory)
    first = await new_agent(uow_factory, tenant_id, created_at=later(0))
    upcoming = new_id()
    assert await cache.list_agents(tenant_id) == [first]
    assert await cache.profile(tenant_id, upcoming) is None

    # `uow_factory` announces nothing to this cache: it stands for another replica.
    second = await new_agent(uow_factory, tenant_id, id=upcoming, created_at=later(1))
    ticker.now += 0.5
    assert await cache.list_agents(tenant_id) == [first]
    assert await cache.profile(tenant_id, upcoming) is None
    ticker.now += 0.5
    assert await cache.list_agents(tenant_id) == [first, second]
    assert await cache.profile(tenant_id, upcoming) is not None


async def test_lead_writes_leave_the_cache_alone(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    announced: list[set[str]] = []
    here = SqlUnitOfWorkFactory(sessionmaker, on_agents_commit=announced.append)
    tenant_id = await new_tenant(here)
    agent = await new_agent(here, tenant_id)
    assert announced == [{tenant_id}]

    async with here() as uow:
        await uow.leads.add(make_lead(tenant_id, agent.id))
        await uow.commit()
    async with here() as uow:
        await uow.intentions.add(make_intention(tenant_id, agent.id))  # rolled back
    assert announced == [{tenant_id}]


async def test_concurrent_misses_share_one_database_read(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    tenant_id = await new_tenant(uow_factory)
    agent = await new_agent(uow_factory, tenant_id)
    counting = CountingReader(SqlAgentReader(engine))
    cache = CachedAgentReader(counting)

    profiles = await asyncio.gather(*(cache.profile(tenant_id, agent.id) for _ in range(20)))

    assert counting.calls == 1
    assert all(profile is profiles[0] for profile in profiles)
