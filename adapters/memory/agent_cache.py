"""A per-process, one-second cache in front of an `AgentReader` (agent lists, chat profiles)."""

from __future__ import annotations

import time
from collections.abc import Callable

from adapters.memory.read_cache import ReadThroughCache
from application.agents.ports import AgentProfile, AgentReader
from domain.agents.models import Agent


def _tenant_of(key: tuple[str, str]) -> str:
    return key[0]


class CachedAgentReader(AgentReader):
    """Serves repeated agent lists and profiles from memory for at most `ttl_seconds`.

    - Writes to agents, configs or intentions made through this process drop the writing
      tenant's entries at once (the unit of work announces the tenant ids it committed), so
      a caller always reads its own writes on the same replica.
    - Writes made on another replica are seen within `ttl_seconds`.
    - Unknown agents are remembered too (as None), so a flood of chat turns for a missing
      agent costs one read per second, not one per turn.
    - Concurrent misses share one read; a read that raced with an invalidation is not kept.
    - Results are shared between callers: treat them as read-only.
    """

    def __init__(
        self,
        inner: AgentReader,
        ttl_seconds: float = 1.0,
        max_entries: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._lists: ReadThroughCache[str, list[Agent]] = ReadThroughCache(
            ttl_seconds, max_entries, monotonic
        )
        self._profiles: ReadThroughCache[tuple[str, str], AgentProfile | None] = ReadThroughCache(
            ttl_seconds, max_entries, monotonic, group_of=_tenant_of
        )

    async def list_agents(self, tenant_id: str) -> list[Agent]:
        return await self._lists.get(tenant_id, lambda: self._inner.list_agents(tenant_id))

    async def profile(self, tenant_id: str, agent_id: str) -> AgentProfile | None:
        return await self._profiles.get(
            (tenant_id, agent_id), lambda: self._inner.profile(tenant_id, agent_id)
        )

    def invalidate(self, tenant_ids: set[str]) -> None:
        self._lists.invalidate(tenant_ids)
        self._profiles.invalidate_groups(tenant_ids)
