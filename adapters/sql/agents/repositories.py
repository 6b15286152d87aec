"""SQL repositories of agents, config versions, intentions and leads, bound to one session."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.agents.records import (
    AgentConfigVersionRecord,
    AgentRecord,
    IntentionRecord,
    LeadRecord,
    agent_to_domain,
    agent_to_row,
    config_version_to_domain,
    config_version_to_row,
    intention_to_domain,
    intention_to_row,
    lead_to_domain,
    lead_to_row,
)
from adapters.sql.billing.statements import insert_unless_present, rowcount
from adapters.sql.errors import translate_unavailable
from application.agents.ports import (
    AgentConfigRepository,
    AgentRepository,
    IntentionRepository,
    LeadRepository,
)
from domain.agents.models import Agent, AgentConfigVersion, Intention, Lead
from domain.errors import AlreadyExists, NotFound

# Core tables: rows are mapped straight to domain objects, never kept in an identity map.
AGENTS: Table = AgentRecord.__table__  # type: ignore[assignment]
CONFIGS: Table = AgentConfigVersionRecord.__table__  # type: ignore[assignment]
INTENTIONS: Table = IntentionRecord.__table__  # type: ignore[assignment]
LEADS: Table = LeadRecord.__table__  # type: ignore[assignment]

# Highest priority first, then oldest first; the reader uses the same order.
INTENTION_ORDER = (
    INTENTIONS.c.priority.desc(),
    INTENTIONS.c.created_at,
    INTENTIONS.c.id,
)

INTENTION_NAME_TAKEN = "the agent already has an intention with this name"
LEAD_CONTACT_TAKEN = "the agent already has a lead with this email or phone"


class TenantWrites:
    """Tenant ids written in this unit of work, announced after commit so read caches drop
    them (shared by the agent, config and intention repositories of one session)."""

    def __init__(self) -> None:
        self.tenant_ids: set[str] = set()


async def _update_unless_clash(session: AsyncSession, statement: Any, clash: str) -> int:
    """Run an UPDATE in a SAVEPOINT: a unique clash raises `AlreadyExists(clash)` and leaves
    the transaction usable (PostgreSQL aborts the whole transaction otherwise)."""
    try:
        async with session.begin_nested():
            return rowcount(await session.execute(statement))
    except IntegrityError as error:
        raise AlreadyExists(clash) from error


class SqlAgentRepository(AgentRepository):
    def __init__(self, session: AsyncSession, writes: TenantWrites) -> None:
        self._session = session
        self._writes = writes

    @translate_unavailable
    async def add(self, agent: Agent) -> None:
        self._writes.tenant_ids.add(agent.tenant_id)
        if not await insert_unless_present(self._session, AGENTS, agent_to_row(agent)):
            raise AlreadyExists("agent already exists")

    @translate_unavailable
    async def get(self, tenant_id: str, agent_id: str) -> Agent | None:
        row = (
            await self._session.execute(
                select(AGENTS).where(AGENTS.c.tenant_id == tenant_id, AGENTS.c.id == agent_id)
            )
        ).first()
        return agent_to_domain(row) if row is not None else None

    @translate_unavailable
    async def list(self, tenant_id: str) -> list[Agent]:
        rows = await self._session.execute(
            select(AGENTS)
            .where(AGENTS.c.tenant_id == tenant_id)
            .order_by(AGENTS.c.created_at, AGENTS.c.id)
        )
        return [agent_to_domain(row) for row in rows]

    @translate_unavailable
    async def count(self, tenant_id: str) -> int:
        statement = select(func.count()).select_from(AGENTS).where(AGENTS.c.tenant_id == tenant_id)
        return int(await self._session.scalar(statement) or 0)

    @translate_unavailable
    async def update(self, agent: Agent) -> None:
        values = agent_to_row(agent)
        del values["id"], values["tenant_id"], values["created_at"]
        self._writes.tenant_ids.add(agent.tenant_id)
        result = await self._session.execute(
            update(AGENTS)
            .where(AGENTS.c.tenant_id == agent.tenant_id, AGENTS.c.id == agent.id)
            .values(values)
        )
        if rowcount(result) != 1:
            raise NotFound("agent not found")

    @translate_unavailable
    async def delete(self, tenant_id: str, agent_id: str) -> bool:
        # Config versions, intentions and leads go with it (ON DELETE CASCADE).
        self._writes.tenant_ids.add(tenant_id)
        result = await self._session.execute(
            delete(AGENTS).where(AGENTS.c.tenant_id == tenant_id, AGENTS.c.id == agent_id)
        )
        return rowcount(result) == 1


class SqlAgentConfigRepository(AgentConfigRepository):
    def __init__(self, session: AsyncSession, writes: TenantWrites) -> None:
        self._session = session
        self._writes = writes

    @translate_unavailable
    async def add(self, version: AgentConfigVersion) -> None:
        self._writes.tenant_ids.add(version.tenant_id)
        row = config_version_to_row(version)
        if not await insert_unless_present(self._session, CONFIGS, row):
            raise AlreadyExists("this config version was saved concurrently")

    @translate_unavailable
    async def current(self, tenant_id: str, agent_id: str) -> AgentConfigVersion | None:
        row = (
            await self._session.execute(
                select(CONFIGS)
                .where(CONFIGS.c.tenant_id == tenant_id, CONFIGS.c.agent_id == agent_id)
                .order_by(CONFIGS.c.version.desc())
                .limit(1)
            )
        ).first()
        return config_version_to_domain(row) if row is not None else None

    @translate_unavailable
    async def list_versions(
        self, tenant_id: str, agent_id: str, offset: int, limit: int
    ) -> tuple[list[AgentConfigVersion], int]:
        of_agent = (CONFIGS.c.tenant_id == tenant_id, CONFIGS.c.agent_id == agent_id)
        rows = await self._session.execute(
            select(CONFIGS)
            .where(*of_agent)
            .order_by(CONFIGS.c.version.desc())
            .offset(offset)
            .limit(limit)
        )
        versions = [config_version_to_domain(row) for row in rows]
        total = await self._session.scalar(
            select(func.count()).select_from(CONFIGS).where(*of_agent)
        )
        return versions, int(total or 0)


class SqlIntentionRepository(IntentionRepository):
    def __init__(self, session: AsyncSession, writes: TenantWrites) -> None:
        self._session = session
        self._writes = writes

    @translate_unavailable
    async def add(self, intention: Intention) -> None:
        self._writes.tenant_ids.add(intention.tenant_id)
        row = intention_to_row(intention)
        if not await insert_unless_present(self._session, INTENTIONS, row):
            raise AlreadyExists(INTENTION_NAME_TAKEN)

    @translate_unavailable
    async def get(self, tenant_id: str, agent_id: str, intention_id: str) -> Intention | None:
        row = (
            await self._session.execute(
                select(INTENTIONS).where(
                    INTENTIONS.c.tenant_id == tenant_id,
                    INTENTIONS.c.agent_id == agent_id,
                    INTENTIONS.c.id == intention_id,
                )
            )
        ).first()
        return intention_to_domain(row) if row is not None else None

    @translate_unavailable
    async def list(self, tenant_id: str, agent_id: str) -> list[Intention]:
        rows = await self._session.execute(
            select(INTENTIONS)
            .where(INTENTIONS.c.tenant_id == tenant_id, INTENTIONS.c.agent_id == agent_id)
            .order_by(*INTENTION_ORDER)
        )
        return [intention_to_domain(row) for row in rows]

    @translate_unavailable
    async def update(self, intention: Intention) -> None:
        values = intention_to_row(intention)
        del values["id"], values["tenant_id"], values["agent_id"], values["created_at"]
        self._writes.tenant_ids.add(intention.tenant_id)
        statement = (
            update(INTENTIONS)
            .where(
                INTENTIONS.c.tenant_id == intention.tenant_id,
                INTENTIONS.c.agent_id == intention.agent_id,
                INTENTIONS.c.id == intention.id,
            )
            .values(values)
        )
        if await _update_unless_clash(self._session, statement, INTENTION_NAME_TAKEN) != 1:
            raise NotFound("intention not found")

    @translate_unavailable
    async def delete(self, tenant_id: str, agent_id: str, intention_id: str) -> bool:
        self._writes.tenant_ids.add(tenant_id)
        result = await self._session.execute(
            delete(INTENTIONS).where(
                INTENTIONS.c.tenant_id == tenant_id,
                INTENTIONS.c.agent_id == agent_id,
                INTENTIONS.c.id == intention_id,
            )
        )
        return rowcount(result) == 1


class SqlLeadRepository(LeadRepository):
    """Leads are not cached anywhere, so writing them announces nothing."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @translate_unavailable
    async def add(self, lead: Lead) -> None:
        # ON CONFLICT DO NOTHING without a target covers both partial unique indexes.
        if not await insert_unless_present(self._session, LEADS, lead_to_row(lead)):
            raise AlreadyExists(LEAD_CONTACT_TAKEN)

    @translate_unavailable
    async def find_by_contact(
        self, tenant_id: str, agent_id: str, email: str, phone: str
    ) -> list[Lead]:
        matches = []
        if email:
            matches.append(LEADS.c.email == email)
        if phone:
            matches.append(LEADS.c.phone == phone)
        if not matches:
            return []
        rows = await self._session.execute(
            select(LEADS)
            .where(LEADS.c.tenant_id == tenant_id, LEADS.c.agent_id == agent_id, or_(*matches))
            .order_by(LEADS.c.created_at, LEADS.c.id)
        )
        return [lead_to_domain(row) for row in rows]

    @translate_unavailable
    async def update(self, lead: Lead) -> None:
        """Raises `AlreadyExists` when the new email or phone belongs to another lead."""
        values = lead_to_row(lead)
        del values["id"], values["tenant_id"], values["agent_id"], values["created_at"]
        statement = (
            update(LEADS)
            .where(
                LEADS.c.tenant_id == lead.tenant_id,
                LEADS.c.agent_id == lead.agent_id,
                LEADS.c.id == lead.id,
            )
            .values(values)
        )
        if await _update_unless_clash(self._session, statement, LEAD_CONTACT_TAKEN) != 1:
            raise NotFound("lead not found")

    @translate_unavailable
    async def list(
        self, tenant_id: str, agent_id: str, offset: int, limit: int
    ) -> tuple[list[Lead], int]:
        of_agent = (LEADS.c.tenant_id == tenant_id, LEADS.c.agent_id == agent_id)
        rows = await self._session.execute(
            select(LEADS)
            .where(*of_agent)
            .order_by(LEADS.c.created_at.desc(), LEADS.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        leads = [lead_to_domain(row) for row in rows]
        total = await self._session.scalar(select(func.count()).select_from(LEADS).where(*of_agent))
        return leads, int(total or 0)

    @translate_unavailable
    async def delete(self, tenant_id: str, agent_id: str, lead_id: str) -> bool:
        result = await self._session.execute(
            delete(LEADS).where(
                LEADS.c.tenant_id == tenant_id,
                LEADS.c.agent_id == agent_id,
                LEADS.c.id == lead_id,
            )
        )
        return rowcount(result) == 1
