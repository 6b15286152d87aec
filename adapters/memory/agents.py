"""In-process agents, config versions, intentions and leads, transactional like the other
memory repositories, with the SQL adapter's unique rules and cascades."""

from __future__ import annotations

import copy
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from adapters.memory.pending_rows import PendingRows, Row
from application.agents.ports import (
    AgentConfigRepository,
    AgentProfile,
    AgentReader,
    AgentRepository,
    IntentionRepository,
    LeadRepository,
)
from application.billing.catalog_ports import AgentCounter
from domain.agents.models import Agent, AgentConfigVersion, Intention, Lead
from domain.errors import AlreadyExists, NotFound


@dataclass
class AgentStore:
    """Committed rows of the agents area, each by id."""

    agents: dict[str, Agent] = field(default_factory=dict)
    configs: dict[str, AgentConfigVersion] = field(default_factory=dict)
    intentions: dict[str, Intention] = field(default_factory=dict)
    leads: dict[str, Lead] = field(default_factory=dict)


def _no_unique_keys(row: Row) -> list[Hashable]:
    return []


def _config_keys(version: AgentConfigVersion) -> list[Hashable]:
    return [(version.agent_id, version.version)]


def _intention_keys(intention: Intention) -> list[Hashable]:
    # The same rule as the SQL unique index on (agent_id, name_key).
    return [(intention.agent_id, intention.name.strip().lower())]


def _lead_keys(lead: Lead) -> list[Hashable]:
    # Partial unique indexes: an empty email or phone identifies nobody.
    keys: list[Hashable] = []
    if lead.email:
        keys.append((lead.tenant_id, lead.agent_id, "email", lead.email))
    if lead.phone:
        keys.append((lead.tenant_id, lead.agent_id, "phone", lead.phone))
    return keys


def _by_creation(row: Agent | Intention | Lead) -> tuple[object, str]:
    return (row.created_at, row.id)


def _intention_order(intention: Intention) -> tuple[int, object, str]:
    return (-intention.priority, intention.created_at, intention.id)


def ordered_intentions(intentions: list[Intention]) -> list[Intention]:
    """Highest priority first, then oldest first."""
    return sorted(intentions, key=_intention_order)


class InMemoryAgentRepository(AgentRepository):
    def __init__(self, rows: PendingRows[Agent]) -> None:
        self._rows = rows

    async def add(self, agent: Agent) -> None:
        if agent.id in self._rows.committed or agent.id in self._rows.pending:
            raise AlreadyExists("agent already exists")
        self._rows.put(agent)

    async def get(self, tenant_id: str, agent_id: str) -> Agent | None:
        return self._rows.get(tenant_id, agent_id)

    async def list(self, tenant_id: str) -> list[Agent]:
        return sorted(self._rows.where(lambda a: a.tenant_id == tenant_id), key=_by_creation)

    async def count(self, tenant_id: str) -> int:
        return len(self._rows.where(lambda a: a.tenant_id == tenant_id))

    async def update(self, agent: Agent) -> None:
        if self._rows.get(agent.tenant_id, agent.id) is None:
            raise NotFound("agent not found")
        self._rows.put(agent)

    async def delete(self, tenant_id: str, agent_id: str) -> bool:
        # Its configs, intentions and leads go at commit (ON DELETE CASCADE).
        if self._rows.get(tenant_id, agent_id) is None:
            return False
        self._rows.remove(agent_id)
        return True


class InMemoryAgentConfigRepository(AgentConfigRepository):
    def __init__(self, rows: PendingRows[AgentConfigVersion]) -> None:
        self._rows = rows

    async def add(self, version: AgentConfigVersion) -> None:
        if version.id in self._rows.committed or version.id in self._rows.pending:
            raise AlreadyExists("config version already exists")
        self._rows.put(version)

    async def current(self, tenant_id: str, agent_id: str) -> AgentConfigVersion | None:
        versions = self._of_agent(tenant_id, agent_id)
        return versions[0] if versions else None

    async def list_versions(
        self, tenant_id: str, agent_id: str, offset: int, limit: int
    ) -> tuple[list[AgentConfigVersion], int]:
        versions = self._of_agent(tenant_id, agent_id)
        return versions[offset : offset + limit], len(versions)

    def _of_agent(self, tenant_id: str, agent_id: str) -> list[AgentConfigVersion]:
        found = self._rows.where(lambda v: v.tenant_id == tenant_id and v.agent_id == agent_id)
        return sorted(found, key=lambda v: v.version, reverse=True)


class InMemoryIntentionRepository(IntentionRepository):
    def __init__(self, rows: PendingRows[Intention]) -> None:
        self._rows = rows

    async def add(self, intention: Intention) -> None:
        if intention.id in self._rows.committed or intention.id in self._rows.pending:
            raise AlreadyExists("intention already exists")
        self._rows.put(intention)

    async def get(self, tenant_id: str, agent_id: str, intention_id: str) -> Intention | None:
        found = self._rows.get(tenant_id, intention_id)
        return found if found is not None and found.agent_id == agent_id else None

    async def list(self, tenant_id: str, agent_id: str) -> list[Intention]:
        return ordered_intentions(
            self._rows.where(lambda i: i.tenant_id == tenant_id and i.agent_id == agent_id)
        )

    async def update(self, intention: Intention) -> None:
        if await self.get(intention.tenant_id, intention.agent_id, intention.id) is None:
            raise NotFound("intention not found")
        self._rows.put(intention)

    async def delete(self, tenant_id: str, agent_id: str, intention_id: str) -> bool:
        if await self.get(tenant_id, agent_id, intention_id) is None:
            return False
        self._rows.remove(intention_id)
        return True


class InMemoryLeadRepository(LeadRepository):
    def __init__(self, rows: PendingRows[Lead]) -> None:
        self._rows = rows

    async def add(self, lead: Lead) -> None:
        if lead.id in self._rows.committed or lead.id in self._rows.pending:
            raise AlreadyExists("lead already exists")
        self._rows.put(lead)

    async def find_by_contact(
        self, tenant_id: str, agent_id: str, email: str, phone: str
    ) -> list[Lead]:
        if not email and not phone:
            return []
        found = self._rows.where(
            lambda lead: (
                lead.tenant_id == tenant_id
                and lead.agent_id == agent_id
                and ((bool(email) and lead.email == email) or (bool(phone) and lead.phone == phone))
            )
        )
        return sorted(found, key=_by_creation)

    async def update(self, lead: Lead) -> None:
        stored = self._rows.get(lead.tenant_id, lead.id)
        if stored is None or stored.agent_id != lead.agent_id:
            raise NotFound("lead not found")
        self._rows.put(lead)

    async def list(
        self, tenant_id: str, agent_id: str, offset: int, limit: int
    ) -> tuple[list[Lead], int]:
        found = self._rows.where(
            lambda lead: lead.tenant_id == tenant_id and lead.agent_id == agent_id
        )
        found.sort(key=_by_creation, reverse=True)
        return found[offset : offset + limit], len(found)

    async def delete(self, tenant_id: str, agent_id: str, lead_id: str) -> bool:
        stored = self._rows.get(tenant_id, lead_id)
        if stored is None or stored.agent_id != agent_id:
            return False
        self._rows.remove(lead_id)
        return True


class InMemoryAgents:
    """The agents-area repositories of one unit of work, checked and applied together."""

    def __init__(self, store: AgentStore) -> None:
        self._store = store
        self._agents = PendingRows(store.agents, _no_unique_keys, "agent already exists")
        self._configs = PendingRows(
            store.configs, _config_keys, "this config version was saved concurrently"
        )
        self._intentions = PendingRows(
            store.intentions, _intention_keys, "the agent already has an intention with this name"
        )
        self._leads = PendingRows(
            store.leads, _lead_keys, "the agent already has a lead with this email or phone"
        )
        self.agents = InMemoryAgentRepository(self._agents)
        self.agent_configs = InMemoryAgentConfigRepository(self._configs)
        self.intentions = InMemoryIntentionRepository(self._intentions)
        self.leads = InMemoryLeadRepository(self._leads)

    def check(self) -> None:
        """Refuse a commit whose unique keys another transaction committed meanwhile, before
        anything is written."""
        self._configs.check()
        self._intentions.check()
        self._leads.check()

    def apply(self, deleted_tenants: set[str]) -> None:
        for rows in (self._agents, self._configs, self._intentions, self._leads):
            rows.apply()
        store = self._store
        for agent_id, agent in list(store.agents.items()):
            if agent.tenant_id in deleted_tenants:  # ON DELETE CASCADE from tenants
                del store.agents[agent_id]
        # ON DELETE CASCADE from agents, whichever transaction deleted the agent.
        _drop_orphans(store.configs, store.agents)
        _drop_orphans(store.intentions, store.agents)
        _drop_orphans(store.leads, store.agents)


class _OfAgent(Protocol):
    @property
    def agent_id(self) -> str: ...


A = TypeVar("A", bound=_OfAgent)


def _drop_orphans(table: dict[str, A], agents: dict[str, Agent]) -> None:
    for row_id, row in list(table.items()):
        if row.agent_id not in agents:
            del table[row_id]


class InMemoryAgentReader(AgentReader):
    """Reads committed agents of an `AgentStore` (no cache: the store is already memory)."""

    def __init__(self, store: AgentStore) -> None:
        self._store = store

    async def list_agents(self, tenant_id: str) -> list[Agent]:
        found = [a for a in self._store.agents.values() if a.tenant_id == tenant_id]
        return copy.deepcopy(sorted(found, key=_by_creation))

    async def profile(self, tenant_id: str, agent_id: str) -> AgentProfile | None:
        agent = self._store.agents.get(agent_id)
        if agent is None or agent.tenant_id != tenant_id:
            return None
        configs = [c for c in self._store.configs.values() if c.agent_id == agent_id]
        if not configs:
            return None
        intentions = [
            i for i in self._store.intentions.values() if i.agent_id == agent_id and i.enabled
        ]
        return copy.deepcopy(
            AgentProfile(
                agent=agent,
                config=max(configs, key=lambda c: c.version),
                intentions=ordered_intentions(intentions),
            )
        )


class InMemoryAgentCounter(AgentCounter):
    """Counts committed agents of an `AgentStore`."""

    def __init__(self, store: AgentStore) -> None:
        self._store = store

    async def count(self, tenant_id: str) -> int:
        return sum(1 for agent in self._store.agents.values() if agent.tenant_id == tenant_id)
