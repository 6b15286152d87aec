"""HTTP request and response bodies of the MappingService endpoints (contract §2, §4)."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from functools import lru_cache
from typing import Any

import msgspec

from application.agents.commands import IntentionInput
from domain.agents.models import (
    Agent,
    AgentConfig,
    AgentConfigVersion,
    Intention,
    Lead,
    LeadCapture,
    Template,
    TemplateIntention,
)
from domain.errors import InvalidArgument
from entrypoints.http.conventions import Page, i64
from entrypoints.http.conventions import timestamp as format_timestamp

# Requests follow §1.3: a missing string is "", a number 0, a bool false, an object null,
# an array []. So a config without `max_tokens` fails validation (0 is out of range) rather
# than silently getting a value the client never chose.


@lru_cache(maxsize=8192)
def timestamp(value: datetime | None) -> str:
    """`conventions.timestamp`, remembered: agent lists repeat the same few instants on every
    request, and formatting them was a quarter of a 20-agent list's CPU time."""
    return format_timestamp(value)


class LeadCaptureBody(msgspec.Struct):
    enabled: bool = False
    fields: list[str] = []

    @classmethod
    def of(cls, capture: LeadCapture) -> LeadCaptureBody:
        return cls(enabled=capture.enabled, fields=list(capture.fields))


class AgentConfigBody(msgspec.Struct):
    """AgentConfig as responses write it: every field, from the stored config."""

    instructions: str
    welcome_message: str
    fallback_message: str
    model: str
    temperature: float
    max_tokens: int
    language: str
    follow_up_questions: bool
    lead_capture: LeadCaptureBody
    inputs: dict[str, Any]

    @classmethod
    def of(cls, config: AgentConfig) -> AgentConfigBody:
        return cls(
            instructions=config.instructions,
            welcome_message=config.welcome_message,
            fallback_message=config.fallback_message,
            model=config.model,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            language=config.language,
            follow_up_questions=config.follow_up_questions,
            lead_capture=LeadCaptureBody.of(config.lead_capture),
            inputs=dict(config.inputs),
        )


class AgentConfigInput(msgspec.Struct):
    """AgentConfig as a client sends it: the full config, missing fields per §1.3."""

    instructions: str = ""
    welcome_message: str = ""
    fallback_message: str = ""
    model: str = ""
    temperature: float = 0.0
    max_tokens: int = 0
    language: str = ""
    follow_up_questions: bool = False
    lead_capture: LeadCaptureBody | None = None
    inputs: dict[str, Any] | None = None

    def to_domain(self) -> AgentConfig:
        capture = self.lead_capture or LeadCaptureBody()
        return AgentConfig(
            instructions=self.instructions,
            welcome_message=self.welcome_message,
            fallback_message=self.fallback_message,
            model=self.model,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            language=self.language,
            follow_up_questions=self.follow_up_questions,
            lead_capture=LeadCapture(enabled=capture.enabled, fields=list(capture.fields)),
            inputs=dict(self.inputs or {}),
        )


class AgentBody(msgspec.Struct):
    agent_id: str
    tenant_id: str
    name: str
    description: str
    template_id: str
    agent_type: str
    business_type: str
    url: str
    knowledge_base_ids: dict[str, str]
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, agent: Agent) -> AgentBody:
        return cls(
            agent_id=agent.id,
            tenant_id=agent.tenant_id,
            name=agent.name,
            description=agent.description,
            template_id=agent.template_id,
            agent_type=agent.agent_type,
            business_type=agent.business_type,
            url=agent.url,
            knowledge_base_ids=dict(agent.knowledge_base_ids),
            created_at=timestamp(agent.created_at),
            updated_at=timestamp(agent.updated_at),
        )


class AgentListResponse(msgspec.Struct):
    agents: list[AgentBody]


class AgentListBodies:
    """Reuses the response built for an agent list while the reader serves that very list.

    The cached `AgentReader` hands out one read-only list object per tenant for up to a
    second; rebuilding its bodies on every request was a tenth of GetAgentList's CPU. The key
    is the list's identity, and the list is held here so the identity cannot be reused: a new
    list (after any write or expiry) always gets a freshly built response.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        self._max = max_entries
        self._entries: OrderedDict[int, tuple[list[Agent], AgentListResponse]] = OrderedDict()

    def response(self, agents: list[Agent]) -> AgentListResponse:
        key = id(agents)
        cached = self._entries.get(key)
        if cached is not None and cached[0] is agents:
            self._entries.move_to_end(key)
            return cached[1]
        built = AgentListResponse(agents=[AgentBody.of(agent) for agent in agents])
        self._entries[key] = (agents, built)
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return built


class CreateAgentRequest(msgspec.Struct):
    template_id: str = ""
    user_id: str = ""
    tenant_id: str = ""
    name: str = ""
    description: str = ""
    update_kb: bool = False
    knowledge_base_ids: dict[str, str] | None = None
    business_type: str = ""
    url: str = ""
    agent_type: str = ""


class CreateAgentResponse(msgspec.Struct):
    agent_id: str
    name: str
    description: str
    created_at: str
    updated_at: str


class UpdateAgentRequest(msgspec.Struct):
    name: str = ""
    description: str = ""


class UpdateAgentResponse(msgspec.Struct):
    agent_id: str
    name: str
    description: str
    updated_at: str


class AgentConfigResponse(msgspec.Struct):
    id: str
    agent_id: str
    config: AgentConfigBody
    created_at: str
    updated_at: str


class UpdateAgentConfigRequest(msgspec.Struct):
    config: AgentConfigInput | None = None
    user_id: str = ""

    def to_config(self) -> AgentConfig:
        if self.config is None:
            raise InvalidArgument("config", "is required")
        return self.config.to_domain()


class UpdateAgentConfigResponse(msgspec.Struct):
    agent_id: str
    config: AgentConfigBody
    updated_at: str


class ConfigVersionBody(msgspec.Struct):
    version: str
    config: AgentConfigBody
    user_id: str
    created_at: str

    @classmethod
    def of(cls, version: AgentConfigVersion) -> ConfigVersionBody:
        return cls(
            version=i64(version.version),
            config=AgentConfigBody.of(version.config),
            user_id=version.user_id,
            created_at=timestamp(version.created_at),
        )


class ConfigVersionListResponse(msgspec.Struct):
    versions: list[ConfigVersionBody]
    page: Page


class IntentionBody(msgspec.Struct):
    id: str
    name: str
    description: str
    examples: list[str]
    reply: str
    collect_fields: list[str]
    enabled: bool
    priority: int
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, intention: Intention) -> IntentionBody:
        return cls(
            id=intention.id,
            name=intention.name,
            description=intention.description,
            examples=list(intention.examples),
            reply=intention.reply,
            collect_fields=list(intention.collect_fields),
            enabled=intention.enabled,
            priority=intention.priority,
            created_at=timestamp(intention.created_at),
            updated_at=timestamp(intention.updated_at),
        )

    @classmethod
    def of_template(cls, intention: TemplateIntention) -> IntentionBody:
        """A template's starter intention: no id or timestamps until an agent copies it, and
        enabled, as the copies are."""
        return cls(
            id="",
            name=intention.name,
            description=intention.description,
            examples=list(intention.examples),
            reply=intention.reply,
            collect_fields=list(intention.collect_fields),
            enabled=True,
            priority=intention.priority,
            created_at=timestamp(None),
            updated_at=timestamp(None),
        )


class IntentionInputBody(msgspec.Struct):
    id: str = ""  # ignored: the server names intentions
    name: str = ""
    description: str = ""
    examples: list[str] = []
    reply: str = ""
    collect_fields: list[str] = []
    enabled: bool = False
    priority: int = 0
    created_at: str = ""  # ignored
    updated_at: str = ""  # ignored

    def to_input(self) -> IntentionInput:
        return IntentionInput(
            name=self.name,
            description=self.description,
            examples=list(self.examples),
            reply=self.reply,
            collect_fields=list(self.collect_fields),
            enabled=self.enabled,
            priority=self.priority,
        )


class IntentionRequest(msgspec.Struct):
    intention: IntentionInputBody | None = None

    def to_input(self) -> IntentionInput:
        if self.intention is None:
            raise InvalidArgument("intention", "is required")
        return self.intention.to_input()


class IntentionResponse(msgspec.Struct):
    intention: IntentionBody


class IntentionListResponse(msgspec.Struct):
    agent_id: str
    intentions: list[IntentionBody]


class LeadBody(msgspec.Struct):
    id: str
    agent_id: str
    conversation_id: str
    external_user_id: str
    source: str
    first_name: str
    last_name: str
    email: str
    phone: str
    company: str
    intent: str
    lead_score: int
    lead_summary: str
    attributes: dict[str, Any]
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, lead: Lead) -> LeadBody:
        return cls(
            id=lead.id,
            agent_id=lead.agent_id,
            conversation_id=lead.conversation_id,
            external_user_id=lead.external_user_id,
            source=lead.source,
            first_name=lead.first_name,
            last_name=lead.last_name,
            email=lead.email,
            phone=lead.phone,
            company=lead.company,
            intent=lead.intent,
            lead_score=lead.lead_score,
            lead_summary=lead.lead_summary,
            attributes=dict(lead.attributes),
            created_at=timestamp(lead.created_at),
            updated_at=timestamp(lead.updated_at),
        )


class LeadListResponse(msgspec.Struct):
    leads: list[LeadBody]
    page: Page  # an addition to the contract's `leads` (§4 allows additions)


class TemplateBody(msgspec.Struct):
    id: str
    name: str
    description: str
    agent_type: str
    config: AgentConfigBody
    intentions: list[IntentionBody]

    @classmethod
    def of(cls, template: Template) -> TemplateBody:
        return cls(
            id=template.id,
            name=template.name,
            description=template.description,
            agent_type=template.agent_type,
            config=AgentConfigBody.of(template.config),
            intentions=[IntentionBody.of_template(i) for i in template.intentions],
        )


class TemplateListResponse(msgspec.Struct):
    templates: list[TemplateBody]
