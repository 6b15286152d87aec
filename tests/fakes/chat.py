"""Small fakes for the chat use cases: a scripted model, a static agent reader, a lead sink."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from application.agents.ports import AgentProfile, AgentReader, LeadRecorder
from application.chat.ports import Completion, LLMBackend, LLMEvent, LLMRequest, TextDelta
from domain.agents.models import (
    Agent,
    AgentConfig,
    AgentConfigVersion,
    Intention,
    Lead,
    LeadSighting,
)
from domain.errors import AstraError
from tests.fakes.clock import DEFAULT_START
from tests.fakes.factories import new_id


class ScriptedBackend(LLMBackend):
    """Streams `deltas`, then a `Completion`; every call and every close is recorded.

    - `error`: raised after `error_after` deltas (before any by default).
    - `gate`: when set, the stream waits for it after `gate_after` deltas (a slow model).
    """

    def __init__(
        self,
        deltas: list[str] | None = None,
        *,
        error: AstraError | None = None,
        error_after: int = 0,
        gate: asyncio.Event | None = None,
        gate_after: int = 1,
    ) -> None:
        self.deltas = deltas if deltas is not None else ["Hello", " there"]
        self.error = error
        self.error_after = error_after
        self.gate = gate
        self.gate_after = gate_after
        self.requests: list[LLMRequest] = []
        self.closed = 0
        self.started = asyncio.Event()

    def stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        self.requests.append(request)
        return self._events()

    async def _events(self) -> AsyncIterator[LLMEvent]:
        self.started.set()
        try:
            for index, text in enumerate(self.deltas):
                if self.error is not None and index == self.error_after:
                    raise self.error
                if self.gate is not None and index == self.gate_after:
                    await self.gate.wait()
                yield TextDelta(text)
            if self.error is not None and self.error_after >= len(self.deltas):
                raise self.error
            yield Completion(prompt_tokens=7, completion_tokens=len(self.deltas))
        finally:
            self.closed += 1


@dataclass
class StaticAgentReader(AgentReader):
    profiles: dict[tuple[str, str], AgentProfile] = field(default_factory=dict)

    def add(self, profile: AgentProfile) -> AgentProfile:
        self.profiles[(profile.agent.tenant_id, profile.agent.id)] = profile
        return profile

    async def list_agents(self, tenant_id: str) -> list[Agent]:
        return [p.agent for (t, _), p in self.profiles.items() if t == tenant_id]

    async def profile(self, tenant_id: str, agent_id: str) -> AgentProfile | None:
        return self.profiles.get((tenant_id, agent_id))


@dataclass
class RecordingLeads(LeadRecorder):
    sightings: list[LeadSighting] = field(default_factory=list)
    fail: bool = False

    async def record(self, sighting: LeadSighting) -> Lead | None:
        if self.fail:
            raise RuntimeError("lead storage is down")
        self.sightings.append(sighting)
        return None


def make_intention(tenant_id: str, agent_id: str, name: str, examples: list[str]) -> Intention:
    return Intention(
        id=new_id(),
        tenant_id=tenant_id,
        agent_id=agent_id,
        name=name,
        description="",
        examples=examples,
        reply="",
        collect_fields=[],
        enabled=True,
        priority=0,
        created_at=DEFAULT_START,
        updated_at=DEFAULT_START,
    )


def make_profile(
    tenant_id: str,
    *,
    agent_id: str | None = None,
    intentions: list[tuple[str, list[str]]] | None = None,
    **config: Any,
) -> AgentProfile:
    """An agent with its current config (keyword overrides of `AgentConfig`)."""
    agent_id = agent_id or new_id()
    agent = Agent(
        id=agent_id,
        tenant_id=tenant_id,
        name="Support",
        description="",
        template_id="",
        agent_type="support",
        business_type="",
        url="",
        knowledge_base_ids={},
        created_at=DEFAULT_START,
        updated_at=DEFAULT_START,
    )
    version = AgentConfigVersion(
        id=new_id(),
        tenant_id=tenant_id,
        agent_id=agent_id,
        version=1,
        config=AgentConfig(**{"instructions": "You help customers.", **config}),
        user_id="",
        model_known=True,
        created_at=DEFAULT_START,
    )
    made = [make_intention(tenant_id, agent_id, n, e) for n, e in (intentions or [])]
    return AgentProfile(agent=agent, config=version, intentions=made)
