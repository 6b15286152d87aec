"""The agents read model and agent counter: indexed Core selects outside any unit of work."""

from __future__ import annotations

from sqlalchemy import BindParameter, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.agents.records import (
    agent_to_domain,
    config_version_to_domain,
    intention_to_domain,
)
from adapters.sql.agents.repositories import AGENTS, CONFIGS, INTENTION_ORDER, INTENTIONS
from adapters.sql.errors import translate_unavailable
from application.agents.ports import AgentProfile, AgentReader
from application.billing.catalog_ports import AgentCounter
from domain.agents.models import Agent

# Built once: only the parameters change from call to call.
_TENANT: BindParameter[str] = bindparam("tenant_id")
_AGENT: BindParameter[str] = bindparam("agent_id")
_AGENTS_OF_TENANT = (
    select(AGENTS).where(AGENTS.c.tenant_id == _TENANT).order_by(AGENTS.c.created_at, AGENTS.c.id)
)
_AGENT_COUNT = select(func.count()).select_from(AGENTS).where(AGENTS.c.tenant_id == _TENANT)
_ONE_AGENT = select(AGENTS).where(AGENTS.c.tenant_id == _TENANT, AGENTS.c.id == _AGENT)
_CURRENT_CONFIG = (
    select(CONFIGS)
    .where(CONFIGS.c.tenant_id == _TENANT, CONFIGS.c.agent_id == _AGENT)
    .order_by(CONFIGS.c.version.desc())
    .limit(1)
)
_ENABLED_INTENTIONS = (
    select(INTENTIONS)
    .where(
        INTENTIONS.c.tenant_id == _TENANT,
        INTENTIONS.c.agent_id == _AGENT,
        INTENTIONS.c.enabled.is_(True),
    )
    .order_by(*INTENTION_ORDER)
)


class SqlAgentReader(AgentReader):
    """Reads on an autocommit connection: no BEGIN/ROLLBACK round trips around the selects.

    `profile` runs three selects that are not one snapshot; an agent deleted between them
    reads as absent or with fewer intentions, never as another agent's data.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    @translate_unavailable
    async def list_agents(self, tenant_id: str) -> list[Agent]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(_AGENTS_OF_TENANT, {"tenant_id": tenant_id})
            return [agent_to_domain(row) for row in rows]

    @translate_unavailable
    async def profile(self, tenant_id: str, agent_id: str) -> AgentProfile | None:
        """None for an unknown agent, or one whose first config is not committed yet."""
        keys = {"tenant_id": tenant_id, "agent_id": agent_id}
        async with self._engine.connect() as connection:
            agent_row = (await connection.execute(_ONE_AGENT, keys)).first()
            if agent_row is None:
                return None
            config_row = (await connection.execute(_CURRENT_CONFIG, keys)).first()
            if config_row is None:
                return None
            intention_rows = (await connection.execute(_ENABLED_INTENTIONS, keys)).all()
        return AgentProfile(
            agent=agent_to_domain(agent_row),
            config=config_version_to_domain(config_row),
            intentions=[intention_to_domain(row) for row in intention_rows],
        )


class SqlAgentCounter(AgentCounter):
    """Counts a tenant's agents with one indexed select on an autocommit connection."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    @translate_unavailable
    async def count(self, tenant_id: str) -> int:
        async with self._engine.connect() as connection:
            found = await connection.scalar(_AGENT_COUNT, {"tenant_id": tenant_id})
        return int(found or 0)
