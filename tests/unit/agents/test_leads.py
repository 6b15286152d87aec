"""Recording leads from chat sightings, listing them newest first, deleting them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adapters.memory.uow import InMemoryUnitOfWork, InMemoryUnitOfWorkFactory
from application.agents.commands import PageQuery
from application.agents.leads import RecordLead
from domain.agents.models import Agent, Lead, LeadSighting
from domain.errors import InvalidArgument, NotFound, PermissionDenied
from domain.tenancy.models import Role
from domain.tenancy.policy import Scope
from tests.fakes.ids import SequentialIds
from tests.unit.agents.kit import AgentsKit


def seen(agent: Agent, **fields: object) -> LeadSighting:
    base = LeadSighting(
        tenant_id=agent.tenant_id,
        agent_id=agent.id,
        conversation_id="conv-1",
        external_user_id="visitor-1",
        source="web",
    )
    return replace(base, **fields)  # type: ignore[arg-type]


async def test_one_lead_per_person_later_sightings_merge_into_it() -> None:
    kit = AgentsKit()
    _, owner = kit.owner()
    agent = await kit.agent(owner, "lead-qualification")
    record = kit.use.record_lead.record

    assert await record(seen(agent, first_name="Nobody")) is None
    assert await record(seen(agent, email="not-an-email")) is None
    first = await record(seen(agent, email=" Ann@Example.com ", first_name="Ann", lead_score=60))
    assert first is not None
    kit.clock.advance(minutes=1)
    second = await record(
        seen(agent, email="ann@example.com", phone="+34 612 345 678", intent="demo")
    )
    third = await record(seen(agent, phone="0034612345678", company="Acme", lead_score=20))

    assert second is not None
    assert third is not None
    assert first.id == second.id == third.id
    page = await kit.use.list_leads(PageQuery(owner, agent.id))
    assert page.total == 1
    (lead,) = page.leads
    assert (lead.email, lead.phone, lead.first_name, lead.company) == (
        "ann@example.com",
        "+34612345678",
        "Ann",
        "Acme",
    )
    assert (lead.intent, lead.lead_score) == ("demo", 60)


async def test_leads_are_per_agent_and_listed_newest_first() -> None:
    kit = AgentsKit()
    _, owner = kit.owner()
    agent = await kit.agent(owner)
    other = await kit.agent(owner, "customer-support")
    for index in range(3):
        await kit.use.record_lead.record(seen(agent, email=f"p{index}@example.com"))
        kit.clock.advance(seconds=1)
    await kit.use.record_lead.record(seen(other, email="p0@example.com"))

    page = await kit.use.list_leads(PageQuery(owner, agent.id, page=1, limit=2))
    assert [lead.email for lead in page.leads] == ["p2@example.com", "p1@example.com"]
    assert (page.total, page.page, page.limit) == (3, 1, 2)
    rest = await kit.use.list_leads(PageQuery(owner, agent.id, page=2, limit=2))
    assert [lead.email for lead in rest.leads] == ["p0@example.com"]
    assert (await kit.use.list_leads(PageQuery(owner, other.id))).total == 1
    with pytest.raises(InvalidArgument):
        await kit.use.list_leads(PageQuery(owner, agent.id, page=0))


async def test_email_of_one_lead_and_phone_of_another_do_not_merge_them() -> None:
    kit = AgentsKit()
    _, owner = kit.owner()
    agent = await kit.agent(owner)
    record = kit.use.record_lead.record
    by_email = await record(seen(agent, email="ann@example.com"))
    kit.clock.advance(seconds=1)
    by_phone = await record(seen(agent, phone="+34612345678"))
    assert by_email is not None
    assert by_phone is not None

    both = await record(seen(agent, email="ann@example.com", phone="+34612345678", intent="x"))

    assert both is not None
    assert both.id == by_email.id
    assert both.phone == ""  # the phone stays with the lead that has it
    assert (await kit.use.list_leads(PageQuery(owner, agent.id))).total == 2


class _StaleFirstRead(InMemoryUnitOfWorkFactory):
    """The first contact lookup misses, as when another turn inserts the same person between
    our read and our insert."""

    def __init__(self, kit: AgentsKit) -> None:
        super().__init__(kit.store)
        self.missed = False

    def __call__(self) -> InMemoryUnitOfWork:
        uow = super().__call__()
        factory = self

        async def enter() -> InMemoryUnitOfWork:
            entered = await InMemoryUnitOfWork.__aenter__(uow)
            real = entered.leads.find_by_contact

            async def find(tenant_id: str, agent_id: str, email: str, phone: str) -> list[Lead]:
                if not factory.missed:
                    factory.missed = True
                    return []
                return await real(tenant_id, agent_id, email, phone)

            entered.leads.find_by_contact = find  # type: ignore[method-assign]
            return entered

        uow.__aenter__ = enter  # type: ignore[method-assign]
        return uow


async def test_a_concurrent_first_sighting_is_merged_not_duplicated() -> None:
    kit = AgentsKit()
    _, owner = kit.owner()
    agent = await kit.agent(owner)
    existing = await kit.use.record_lead.record(seen(agent, email="ann@example.com"))
    assert existing is not None
    racing = RecordLead(_StaleFirstRead(kit), SequentialIds("race"), kit.clock)

    merged = await racing.record(seen(agent, email="ann@example.com", company="Acme"))

    assert merged is not None
    assert merged.id == existing.id
    (lead,) = (await kit.use.list_leads(PageQuery(owner, agent.id))).leads
    assert lead.company == "Acme"


async def test_reading_and_deleting_leads_follow_roles_scopes_and_tenants() -> None:
    kit = AgentsKit()
    tenant_id, owner = kit.owner()
    agent = await kit.agent(owner)
    lead = await kit.use.record_lead.record(seen(agent, email="ann@example.com"))
    assert lead is not None
    normal = kit.member(tenant_id, Role.NORMAL)
    leads_reader = kit.key(tenant_id, Scope.LEADS_READ)
    agents_reader = kit.key(tenant_id, Scope.AGENTS_READ)
    _, stranger = kit.owner()

    for allowed in (normal, leads_reader):
        assert (await kit.use.list_leads(PageQuery(allowed, agent.id))).total == 1
    with pytest.raises(PermissionDenied):
        await kit.use.list_leads(PageQuery(agents_reader, agent.id))
    with pytest.raises(NotFound):
        await kit.use.list_leads(PageQuery(stranger, agent.id))
    for refused in (normal, leads_reader):
        with pytest.raises(PermissionDenied):
            await kit.use.delete_lead(refused, agent.id, lead.id)
    with pytest.raises(NotFound):
        await kit.use.delete_lead(stranger, agent.id, lead.id)

    await kit.use.delete_lead(kit.key(tenant_id, Scope.AGENTS_WRITE), agent.id, lead.id)
    assert (await kit.use.list_leads(PageQuery(owner, agent.id))).total == 0
    with pytest.raises(NotFound):
        await kit.use.delete_lead(owner, agent.id, lead.id)
