"""Ports of the agents area: agents, their config versions, intentions and leads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.agents.models import (
    Agent,
    AgentConfigVersion,
    Intention,
    Lead,
    LeadSighting,
    Template,
)


class AgentRepository(Protocol):
    async def add(self, agent: Agent) -> None: ...

    async def get(self, tenant_id: str, agent_id: str) -> Agent | None: ...

    async def list(self, tenant_id: str) -> list[Agent]:
        """The tenant's agents, oldest first (created_at, then id)."""
        ...

    async def count(self, tenant_id: str) -> int: ...

    async def update(self, agent: Agent) -> None: ...

    async def delete(self, tenant_id: str, agent_id: str) -> bool:
        """Deletes the agent with its config versions, intentions and leads; False if absent.

        Conversations and messages are kept (they carry the credits history).
        """
        ...


class AgentConfigRepository(Protocol):
    async def add(self, version: AgentConfigVersion) -> None:
        """Raises `AlreadyExists` when (agent, version) is taken: two concurrent updates
        raced; the loser's transaction stays usable and the use case retries or reports 6."""
        ...

    async def current(self, tenant_id: str, agent_id: str) -> AgentConfigVersion | None:
        """The highest version."""
        ...

    async def list_versions(
        self, tenant_id: str, agent_id: str, offset: int, limit: int
    ) -> tuple[list[AgentConfigVersion], int]:
        """Newest version first, and the total count."""
        ...


class IntentionRepository(Protocol):
    async def add(self, intention: Intention) -> None:
        """Raises `AlreadyExists` when the agent already has an intention of that name
        (case-insensitive, unique index on (agent_id, name_key))."""
        ...

    async def get(self, tenant_id: str, agent_id: str, intention_id: str) -> Intention | None: ...

    async def list(self, tenant_id: str, agent_id: str) -> list[Intention]:
        """Highest priority first, then oldest first (created_at, then id)."""
        ...

    async def update(self, intention: Intention) -> None:
        """Raises `AlreadyExists` on a name clash with another intention of the agent."""
        ...

    async def delete(self, tenant_id: str, agent_id: str, intention_id: str) -> bool: ...


class LeadRepository(Protocol):
    async def add(self, lead: Lead) -> None:
        """Raises `AlreadyExists` when the agent already has a lead with that email or phone
        (partial unique indexes where the value is not empty); the transaction stays usable."""
        ...

    async def find_by_contact(
        self, tenant_id: str, agent_id: str, email: str, phone: str
    ) -> list[Lead]:
        """Leads of the agent matching the (normalized, non-empty) email or phone; 0 to 2 rows."""
        ...

    async def update(self, lead: Lead) -> None: ...

    async def list(
        self, tenant_id: str, agent_id: str, offset: int, limit: int
    ) -> tuple[list[Lead], int]:
        """Newest first (created_at desc, then id desc), and the total count."""
        ...

    async def delete(self, tenant_id: str, agent_id: str, lead_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """Everything a chat turn needs to know about an agent, read in one go."""

    agent: Agent
    config: AgentConfigVersion
    intentions: list[Intention]  # enabled ones only, in repository order


class AgentReader(Protocol):
    """Read model for hot paths (agent list, chat turns): no transaction, may be cached for a
    bounded, documented time."""

    async def list_agents(self, tenant_id: str) -> list[Agent]: ...

    async def profile(self, tenant_id: str, agent_id: str) -> AgentProfile | None: ...


class LeadRecorder(Protocol):
    """The port the chat capability writes leads through (implemented by `RecordLead`)."""

    async def record(self, sighting: LeadSighting) -> Lead | None:
        """Merge the sighting into the agent's lead for that email/phone (creating it);
        None when the sighting has neither email nor phone."""
        ...


class TemplateCatalog(Protocol):
    def list(self) -> list[Template]: ...

    def get(self, template_id: str) -> Template | None: ...
