"""Agents: an agent of a tenant, its versioned configuration, its intentions and its leads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class LeadCapture:
    enabled: bool = False
    fields: list[str] = field(default_factory=list)


@dataclass(slots=True)
class AgentConfig:
    """What the agent says and how the model is called (contract §2 AgentConfig)."""

    instructions: str = ""
    welcome_message: str = ""
    fallback_message: str = ""
    model: str = ""
    temperature: float = 0.7
    max_tokens: int = 512
    language: str = "en"
    follow_up_questions: bool = False
    lead_capture: LeadCapture = field(default_factory=LeadCapture)
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Agent:
    id: str
    tenant_id: str
    name: str
    description: str
    template_id: str
    agent_type: str
    business_type: str
    url: str
    knowledge_base_ids: dict[str, str]
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class AgentConfigVersion:
    """One saved configuration; the highest version of an agent is its current config.

    `id` is the config's identity (GetAgentConfig `id`); `user_id` is the author ("" when
    created from a template by an API key or internally). `model_known` records whether `model`
    was a model name Astra knows (unknown names are allowed, but recorded).
    """

    id: str
    tenant_id: str
    agent_id: str
    version: int
    config: AgentConfig
    user_id: str
    model_known: bool
    created_at: datetime


@dataclass(slots=True)
class Intention:
    id: str
    tenant_id: str
    agent_id: str
    name: str
    description: str
    examples: list[str]
    reply: str
    collect_fields: list[str]
    enabled: bool
    priority: int
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class Lead:
    """One person who showed interest, per (tenant, agent, normalized email or phone)."""

    id: str
    tenant_id: str
    agent_id: str
    conversation_id: str
    external_user_id: str
    source: str
    first_name: str
    last_name: str
    email: str  # normalized (lower-case) or ""
    phone: str  # normalized (E.164-like "+<digits>") or ""
    company: str
    intent: str
    lead_score: int
    lead_summary: str
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class LeadSighting:
    """What a chat turn learned about a person; merged into the agent's lead for them.

    Empty strings mean "not seen this time" and never erase what the lead already has.
    At least one of `email` / `phone` must be set (already normalized).
    """

    tenant_id: str
    agent_id: str
    conversation_id: str
    external_user_id: str
    source: str
    email: str = ""
    phone: str = ""
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    intent: str = ""
    lead_score: int = 0
    lead_summary: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TemplateIntention:
    name: str
    description: str
    examples: tuple[str, ...]
    reply: str
    collect_fields: tuple[str, ...] = ()
    priority: int = 0


@dataclass(frozen=True, slots=True)
class Template:
    """A starting point shipped as data; an agent built from it copies config and intentions."""

    id: str
    name: str
    description: str
    agent_type: str
    config: AgentConfig
    intentions: tuple[TemplateIntention, ...]
