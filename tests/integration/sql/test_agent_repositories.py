"""Agents, config versions, intentions and leads behave alike on PostgreSQL, SQLite and memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from adapters.memory.uow import InMemoryUnitOfWorkFactory
from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.uow import SqlUnitOfWorkFactory
from application.common.ports import UnitOfWorkFactory
from domain.agents.models import LeadCapture
from domain.errors import AlreadyExists, NotFound
from tests.integration.sql.agent_factories import (
    later,
    make_agent,
    make_config,
    make_config_version,
    make_intention,
    make_lead,
)
from tests.integration.sql.factories import make_tenant

STORES = ["postgresql", "sqlite", "memory"]
# A tenant id nobody has: rows asked for under it must stay invisible and untouched.
STRANGER = "another-tenant"


@pytest.fixture(scope="session", params=STORES)
async def uow(
    request: pytest.FixtureRequest, migrated_database_url: str, migrated_sqlite_url: str
) -> AsyncIterator[UnitOfWorkFactory]:
    """A unit-of-work factory per store; tests isolate their data with random ids."""
    if request.param == "memory":
        yield InMemoryUnitOfWorkFactory()
        return
    url = migrated_database_url if request.param == "postgresql" else migrated_sqlite_url
    engine = create_engine(url, pool_size=5)
    try:
        yield SqlUnitOfWorkFactory(create_sessionmaker(engine))
    finally:
        await engine.dispose()


async def new_tenant(uow: UnitOfWorkFactory) -> str:
    tenant = make_tenant()
    async with uow() as unit:
        await unit.tenants.add(tenant)
        await unit.commit()
    return tenant.id


async def new_agent(uow: UnitOfWorkFactory, tenant_id: str | None = None) -> tuple[str, str]:
    """(tenant id, agent id) of a committed agent."""
    tenant_id = tenant_id or await new_tenant(uow)
    agent = make_agent(tenant_id)
    async with uow() as unit:
        await unit.agents.add(agent)
        await unit.commit()
    return tenant_id, agent.id


# ---------------------------------------------------------------- agents


async def test_agents_round_trip_and_are_listed_oldest_first_per_tenant(
    uow: UnitOfWorkFactory,
) -> None:
    tenant_id, other_tenant = await new_tenant(uow), await new_tenant(uow)
    newer = make_agent(tenant_id, created_at=later(60), knowledge_base_ids={"a": "1", "b": "2"})
    older = make_agent(tenant_id, created_at=later(0))
    foreign = make_agent(other_tenant)
    async with uow() as unit:
        for agent in (newer, older, foreign):
            await unit.agents.add(agent)
        await unit.commit()

    async with uow() as unit:
        assert await unit.agents.get(tenant_id, newer.id) == newer
        assert await unit.agents.list(tenant_id) == [older, newer]
        assert await unit.agents.count(tenant_id) == 2
        assert await unit.agents.count(other_tenant) == 1
        # Another tenant's agent is invisible, even by its id.
        assert await unit.agents.get(tenant_id, foreign.id) is None
        assert await unit.agents.get(other_tenant, "no-such-agent") is None


async def test_adding_a_taken_agent_id_raises_and_leaves_the_transaction_usable(
    uow: UnitOfWorkFactory,
) -> None:
    tenant_id, agent_id = await new_agent(uow)
    second = make_agent(tenant_id)
    async with uow() as unit:
        with pytest.raises(AlreadyExists):
            await unit.agents.add(make_agent(tenant_id, id=agent_id))
        await unit.agents.add(second)
        await unit.commit()

    async with uow() as unit:
        assert await unit.agents.count(tenant_id) == 2


async def test_agent_update_stores_new_values_only_within_its_tenant(
    uow: UnitOfWorkFactory,
) -> None:
    tenant_id, agent_id = await new_agent(uow)
    async with uow() as unit:
        agent = await unit.agents.get(tenant_id, agent_id)
        assert agent is not None
        renamed = replace(agent, name="Sales desk", description="", updated_at=later(30))
        await unit.agents.update(renamed)
        with pytest.raises(NotFound):
            await unit.agents.update(replace(renamed, tenant_id=STRANGER))
        await unit.commit()

    async with uow() as unit:
        assert await unit.agents.get(tenant_id, agent_id) == renamed


async def test_deleting_an_agent_deletes_its_configs_intentions_and_leads(
    uow: UnitOfWorkFactory,
) -> None:
    tenant_id, agent_id = await new_agent(uow)
    _, kept_agent = await new_agent(uow, tenant_id)
    kept_lead = make_lead(tenant_id, kept_agent)
    async with uow() as unit:
        await unit.agent_configs.add(make_config_version(tenant_id, agent_id))
        await unit.intentions.add(make_intention(tenant_id, agent_id))
        await unit.leads.add(make_lead(tenant_id, agent_id))
        await unit.leads.add(kept_lead)
        await unit.commit()

    async with uow() as unit:
        assert not await unit.agents.delete(STRANGER, agent_id)  # not its tenant
        assert await unit.agents.delete(tenant_id, agent_id)
        assert not await unit.agents.delete(tenant_id, agent_id)
        await unit.commit()

    async with uow() as unit:
        assert await unit.agents.get(tenant_id, agent_id) is None
        assert await unit.agent_configs.current(tenant_id, agent_id) is None
        assert await unit.intentions.list(tenant_id, agent_id) == []
        assert await unit.leads.list(tenant_id, agent_id, 0, 10) == ([], 0)
        assert await unit.leads.list(tenant_id, kept_agent, 0, 10) == ([kept_lead], 1)


async def test_deleting_a_tenant_deletes_its_agents(uow: UnitOfWorkFactory) -> None:
    tenant_id, agent_id = await new_agent(uow)
    async with uow() as unit:
        await unit.intentions.add(make_intention(tenant_id, agent_id))
        await unit.commit()
    async with uow() as unit:
        await unit.tenants.delete(tenant_id)
        await unit.commit()

    async with uow() as unit:
        assert await unit.agents.count(tenant_id) == 0
        assert await unit.intentions.list(tenant_id, agent_id) == []


# ---------------------------------------------------------------- config versions


async def test_the_highest_config_version_is_current_and_round_trips_whole(
    uow: UnitOfWorkFactory,
) -> None:
    tenant_id, agent_id = await new_agent(uow)
    first = make_config_version(tenant_id, agent_id, version=1)
    second = make_config_version(
        tenant_id,
        agent_id,
        version=2,
        user_id="",
        model_known=False,
        config=make_config(model="my-own-model", lead_capture=LeadCapture(), inputs={}),
    )
    async with uow() as unit:
        await unit.agent_configs.add(second)
        await unit.agent_configs.add(first)
        await unit.commit()

    async with uow() as unit:
        assert await unit.agent_configs.current(tenant_id, agent_id) == second
        assert await unit.agent_configs.current(STRANGER, agent_id) is None


async def test_a_taken_config_version_raises_and_leaves_the_transaction_usable(
    uow: UnitOfWorkFactory,
) -> None:
    tenant_id, agent_id = await new_agent(uow)
    async with uow() as unit:
        await unit.agent_configs.add(make_config_version(tenant_id, agent_id, version=1))
        await unit.commit()

    intention = make_intention(tenant_id, agent_id)
    async with uow() as unit:
        with pytest.raises(AlreadyExists):
            await unit.agent_configs.add(make_config_version(tenant_id, agent_id, version=1))
        await unit.intentions.add(intention)
        await unit.commit()

    async with uow() as unit:
        assert await unit.intentions.list(tenant_id, agent_id) == [intention]


async def test_config_versions_are_paged_newest_first_with_the_total(
    uow: UnitOfWorkFactory,
) -> None:
    tenant_id, agent_id = await new_agent(uow)
    versions = [make_config_version(tenant_id, agent_id, version=n) for n in range(1, 6)]
    async with uow() as unit:
        for version in versions:
            await unit.agent_configs.add(version)
        await unit.commit()

    async with uow() as unit:
        page, total = await unit.agent_configs.list_versions(tenant_id, agent_id, 1, 2)
        last, _ = await unit.agent_configs.list_versions(tenant_id, agent_id, 4, 2)
        foreign = await unit.agent_configs.list_versions(STRANGER, agent_id, 0, 9)
    assert [v.version for v in page] == [4, 3]
    assert total == 5
    assert last == [versions[0]]
    assert foreign == ([], 0)


# ---------------------------------------------------------------- intentions


async def test_intentions_are_listed_by_priority_then_age(uow: UnitOfWorkFactory) -> None:
    tenant_id, agent_id = await new_agent(uow)
    low = make_intention(tenant_id, agent_id, priority=1, created_at=later(0))
    high = make_intention(tenant_id, agent_id, priority=5, created_at=later(10))
    low_newer = make_intention(tenant_id, agent_id, priority=1, created_at=later(20))
    disabled = make_intention(tenant_id, agent_id, priority=9, enabled=False)
    async with uow() as unit:
        for intention in (low_newer, low, disabled, high):
            await unit.intentions.add(intention)
        await unit.commit()

    async with uow() as unit:
        assert await unit.intentions.list(tenant_id, agent_id) == [disabled, high, low, low_newer]
        assert await unit.intentions.get(tenant_id, agent_id, high.id) == high
        _, other_agent = await new_agent(uow, tenant_id)
        assert await unit.intentions.get(tenant_id, other_agent, high.id) is None
        assert await unit.intentions.get(STRANGER, agent_id, high.id) is None


async def test_intention_names_are_unique_per_agent_ignoring_case_and_spaces(
    uow: UnitOfWorkFactory,
) -> None:
    tenant_id, agent_id = await new_agent(uow)
    _, other_agent = await new_agent(uow, tenant_id)
    async with uow() as unit:
        await unit.intentions.add(make_intention(tenant_id, agent_id, name="Pricing"))
        with pytest.raises(AlreadyExists):
            await unit.intentions.add(make_intention(tenant_id, agent_id, name="  pRICING "))
        # The same name on another agent is fine, and the refusal left the transaction usable.
        await unit.intentions.add(make_intention(tenant_id, other_agent, name="pricing"))
        await unit.commit()

    async with uow() as unit:
        assert len(await unit.intentions.list(tenant_id, agent_id)) == 1
        assert len(await unit.intentions.list(tenant_id, other_agent)) == 1


async def test_intention_update_refuses_a_taken_name_and_a_missing_row(
    uow: UnitOfWorkFactory,
) -> None:
    tenant_id, agent_id = await new_agent(uow)
    pricing = make_intention(tenant_id, agent_id, name="Pricing")
    hours = make_intention(tenant_id, agent_id, name="Hours")
    async with uow() as unit:
        await unit.intentions.add(pricing)
        await unit.intentions.add(hours)
        await unit.commit()

    edited = replace(hours, name="HOURS", reply="9 to 5", enabled=False, updated_at=later(5))
    async with uow() as unit:
        with pytest.raises(AlreadyExists):
            await unit.intentions.update(replace(hours, name="pricing"))
        with pytest.raises(NotFound):
            await unit.intentions.update(make_intention(tenant_id, agent_id))
        await unit.intentions.update(edited)  # its own name in another case is no clash
        await unit.commit()

    async with uow() as unit:
        assert await unit.intentions.get(tenant_id, agent_id, hours.id) == edited
        assert await unit.intentions.get(tenant_id, agent_id, pricing.id) == pricing


async def test_deleting_an_intention_frees_its_name(uow: UnitOfWorkFactory) -> None:
    tenant_id, agent_id = await new_agent(uow)
    pricing = make_intention(tenant_id, agent_id, name="Pricing")
    async with uow() as unit:
        await unit.intentions.add(pricing)
        await unit.commit()

    async with uow() as unit:
        assert not await unit.intentions.delete(STRANGER, agent_id, pricing.id)
        assert await unit.intentions.delete(tenant_id, agent_id, pricing.id)
        assert not await unit.intentions.delete(tenant_id, agent_id, pricing.id)
        await unit.intentions.add(make_intention(tenant_id, agent_id, name="pricing"))
        await unit.commit()


async def test_concurrent_intentions_of_one_name_commit_once(uow: UnitOfWorkFactory) -> None:
    tenant_id, agent_id = await new_agent(uow)
    start = asyncio.Event()

    async def create() -> bool:
        async with uow() as unit:
            await start.wait()
            try:
                await unit.intentions.add(make_intention(tenant_id, agent_id, name="Refunds"))
                await unit.commit()
            except AlreadyExists:
                return False
            return True

    racers = [asyncio.create_task(create()) for _ in range(4)]
    await asyncio.sleep(0)
    start.set()
    outcomes = await asyncio.gather(*racers)

    assert outcomes.count(True) == 1
    async with uow() as unit:
        assert len(await unit.intentions.list(tenant_id, agent_id)) == 1


# ---------------------------------------------------------------- leads


async def test_a_lead_is_unique_per_agent_by_email_and_by_phone(uow: UnitOfWorkFactory) -> None:
    tenant_id, agent_id = await new_agent(uow)
    _, other_agent = await new_agent(uow, tenant_id)
    by_email = make_lead(tenant_id, agent_id, email="ada@example.com", phone="")
    by_phone = make_lead(tenant_id, agent_id, email="", phone="+34600000001")
    no_email_either = make_lead(tenant_id, agent_id, email="", phone="+34600000002")
    async with uow() as unit:
        for lead in (by_email, by_phone, no_email_either):
            await unit.leads.add(lead)
        with pytest.raises(AlreadyExists):
            await unit.leads.add(make_lead(tenant_id, agent_id, email="ada@example.com"))
        with pytest.raises(AlreadyExists):
            await unit.leads.add(make_lead(tenant_id, agent_id, email="", phone="+34600000001"))
        # The same person may be a lead of another agent; the transaction is still usable.
        await unit.leads.add(make_lead(tenant_id, other_agent, email="ada@example.com"))
        await unit.commit()

    async with uow() as unit:
        _, total = await unit.leads.list(tenant_id, agent_id, 0, 10)
    assert total == 3


async def test_leads_are_found_by_email_or_phone_within_the_agent(
    uow: UnitOfWorkFactory,
) -> None:
    tenant_id, agent_id = await new_agent(uow)
    by_email = make_lead(tenant_id, agent_id, email="ada@example.com", created_at=later(0))
    by_phone = make_lead(tenant_id, agent_id, email="", phone="+3460001", created_at=later(1))
    async with uow() as unit:
        await unit.leads.add(by_email)
        await unit.leads.add(by_phone)
        await unit.commit()

    async with uow() as unit:
        found = await unit.leads.find_by_contact(tenant_id, agent_id, "ada@example.com", "+3460001")
        assert found == [by_email, by_phone]
        assert await unit.leads.find_by_contact(tenant_id, agent_id, "", "+3460001") == [by_phone]
        assert await unit.leads.find_by_contact(tenant_id, agent_id, "", "") == []
        assert await unit.leads.find_by_contact(STRANGER, agent_id, "ada@example.com", "") == []


async def test_leads_are_paged_newest_first_and_updated_in_place(
    uow: UnitOfWorkFactory,
) -> None:
    tenant_id, agent_id = await new_agent(uow)
    leads = [make_lead(tenant_id, agent_id, created_at=later(n)) for n in range(4)]
    async with uow() as unit:
        for lead in leads:
            await unit.leads.add(lead)
        await unit.commit()

    merged = replace(
        leads[0], phone="+3461111", lead_score=95, attributes={"seen": 2}, updated_at=later(9)
    )
    async with uow() as unit:
        await unit.leads.update(merged)
        with pytest.raises(AlreadyExists):
            await unit.leads.update(replace(leads[1], email=leads[2].email))
        with pytest.raises(NotFound):
            await unit.leads.update(make_lead(tenant_id, agent_id))
        await unit.commit()

    async with uow() as unit:
        page, total = await unit.leads.list(tenant_id, agent_id, 1, 2)
        assert (page, total) == ([leads[2], leads[1]], 4)
        oldest, _ = await unit.leads.list(tenant_id, agent_id, 3, 2)
        assert oldest == [merged]


async def test_deleting_a_lead_needs_its_tenant_and_agent(uow: UnitOfWorkFactory) -> None:
    tenant_id, agent_id = await new_agent(uow)
    _, other_agent = await new_agent(uow, tenant_id)
    lead = make_lead(tenant_id, agent_id)
    async with uow() as unit:
        await unit.leads.add(lead)
        await unit.commit()

    async with uow() as unit:
        assert not await unit.leads.delete(tenant_id, other_agent, lead.id)
        assert not await unit.leads.delete(STRANGER, agent_id, lead.id)
        assert await unit.leads.delete(tenant_id, agent_id, lead.id)
        await unit.commit()

    async with uow() as unit:
        assert await unit.leads.list(tenant_id, agent_id, 0, 10) == ([], 0)
