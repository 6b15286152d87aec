"""Leads of an agent: list and delete them, and record what chat turns learn about people."""

from __future__ import annotations

from dataclasses import replace

from application.agents.agents import agent_of
from application.agents.commands import LeadPage, PageQuery
from application.agents.ports import LeadRecorder
from application.common.caller import Caller
from application.common.paging import page_offset
from application.common.ports import Clock, IdGenerator, UnitOfWork, UnitOfWorkFactory
from domain.agents.contacts import normalize_email, normalize_phone
from domain.agents.leads import merge_sighting, new_lead
from domain.agents.models import Lead, LeadSighting
from domain.errors import AlreadyExists, NotFound
from domain.tenancy.policy import Action

LEAD_NOT_FOUND = "lead not found"


class ListLeads:
    """GetAgentLeadList: the agent's leads, newest first, paged (§1.5).

    - Needs READ_LEADS (any member, `leads:read`); unknown agent or another tenant's →
      `NotFound`.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    async def __call__(self, query: PageQuery) -> LeadPage:
        offset = page_offset(query.page, query.limit)
        async with self._uow() as uow:
            agent = await agent_of(uow, query.caller, Action.READ_LEADS, query.agent_id)
            leads, total = await uow.leads.list(agent.tenant_id, agent.id, offset, query.limit)
        return LeadPage(leads, query.page, query.limit, total)


class DeleteLead:
    """DeleteAgentLead.

    - Needs DELETE_LEADS (owner, admin, `agents:write`); unknown agent, lead, or another
      tenant's → `NotFound`.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    async def __call__(self, caller: Caller, agent_id: str, lead_id: str) -> None:
        async with self._uow() as uow:
            agent = await agent_of(uow, caller, Action.DELETE_LEADS, agent_id)
            if not await uow.leads.delete(agent.tenant_id, agent.id, lead_id):
                raise NotFound(LEAD_NOT_FOUND)
            await uow.commit()


class RecordLead(LeadRecorder):
    """The chat capability's way to write leads: one per (tenant, agent, email or phone).

    - A sighting without a usable email or phone records nothing (None).
    - A known person (same normalized email or phone) gets the sighting merged in
      (`domain.agents.leads.merge_sighting`); otherwise a new lead is added.
    - When the email matches one lead and the phone another, the older lead gets the sighting
      without the contact the other one holds: the two are never merged silently.
    - A concurrent first sighting of the same person makes our insert clash; it is retried
      once, merging into the lead the other writer created.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, ids: IdGenerator, clock: Clock) -> None:
        self._uow = uow_factory
        self._ids = ids
        self._clock = clock

    async def record(self, sighting: LeadSighting) -> Lead | None:
        cleaned = replace(
            sighting, email=normalize_email(sighting.email), phone=normalize_phone(sighting.phone)
        )
        if not cleaned.email and not cleaned.phone:
            return None
        async with self._uow() as uow:
            try:
                lead = await self._record(uow, cleaned, insert=True)
            except AlreadyExists:
                # The other writer's row is committed (that is why ours clashed): merge into it.
                lead = await self._record(uow, cleaned, insert=False)
            await uow.commit()
        return lead

    async def _record(self, uow: UnitOfWork, sighting: LeadSighting, *, insert: bool) -> Lead:
        now = self._clock.now()
        matches = await uow.leads.find_by_contact(
            sighting.tenant_id, sighting.agent_id, sighting.email, sighting.phone
        )
        if not matches:
            if not insert:
                raise AlreadyExists("the lead changed concurrently; try again")
            lead = new_lead(self._ids.new_id(), sighting, now)
            await uow.leads.add(lead)
            return lead
        target, *others = sorted(matches, key=lambda lead: (lead.created_at, lead.id))
        for other in others:
            if other.email and other.email == sighting.email:
                sighting = replace(sighting, email="")
            if other.phone and other.phone == sighting.phone:
                sighting = replace(sighting, phone="")
        lead = merge_sighting(target, sighting, now)
        await uow.leads.update(lead)
        return lead
