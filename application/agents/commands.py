"""Inputs and outputs of the agent, config, intention and lead use cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from application.common.caller import Caller
from domain.agents.models import AgentConfig, AgentConfigVersion, Lead

DEFAULT_PAGE_LIMIT = 20


@dataclass(frozen=True, slots=True)
class CreateAgentCommand:
    caller: Caller
    template_id: str
    tenant_id: str = ""  # empty = the caller's own; else must be it
    user_id: str = ""  # empty, or the caller's own user id
    name: str = ""  # empty = the template's name
    description: str = ""  # empty = the template's description
    update_kb: bool = False  # accepted and ignored: there is no knowledge-base service yet
    knowledge_base_ids: dict[str, str] = field(default_factory=dict)
    business_type: str = ""
    url: str = ""
    agent_type: str = ""  # empty = the template's agent type


@dataclass(frozen=True, slots=True)
class UpdateAgentCommand:
    caller: Caller
    agent_id: str
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class UpdateConfigCommand:
    caller: Caller
    agent_id: str
    config: AgentConfig
    user_id: str = ""  # empty, or the caller's own user id


@dataclass(frozen=True, slots=True)
class ConfigView:
    """GetAgentConfig: `id` is the current version's id; `created_at` the agent's creation,
    `updated_at` when the current version was saved."""

    id: str
    agent_id: str
    config: AgentConfig
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PageQuery:
    """A paged list of one agent's things (§1.5)."""

    caller: Caller
    agent_id: str
    page: int = 1
    limit: int = DEFAULT_PAGE_LIMIT


@dataclass(frozen=True, slots=True)
class ConfigVersionPage:
    versions: list[AgentConfigVersion]
    page: int
    limit: int
    total: int


@dataclass(frozen=True, slots=True)
class LeadPage:
    leads: list[Lead]
    page: int
    limit: int
    total: int


@dataclass(frozen=True, slots=True)
class IntentionInput:
    """An intention as a client sends it (the `id` a client sends is ignored)."""

    name: str = ""
    description: str = ""
    examples: list[str] = field(default_factory=list)
    reply: str = ""
    collect_fields: list[str] = field(default_factory=list)
    enabled: bool = False  # contract §1.3: a missing bool is false
    priority: int = 0


@dataclass(frozen=True, slots=True)
class CreateIntentionCommand:
    caller: Caller
    agent_id: str
    intention: IntentionInput


@dataclass(frozen=True, slots=True)
class UpdateIntentionCommand:
    caller: Caller
    agent_id: str
    intention_id: str
    intention: IntentionInput
