"""ORM records of agents, config versions, intentions and leads, with domain mappers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Row,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from adapters.sql.base import Base
from domain.agents.models import Agent, AgentConfig, AgentConfigVersion, Intention, Lead

JSON_VALUE = JSON().with_variant(JSONB(), "postgresql")

_EMAIL_SET = text("email <> ''")
_PHONE_SET = text("phone <> ''")


# Free-form texts are `Text`: the use cases validate lengths, and storage never refuses what
# they let in (ids stay String(64) like every other id of the schema).


class AgentRecord(Base):
    __tablename__ = "agents"
    __table_args__ = (
        # The tenant's agents, oldest first; also serves counting them and the tenant's
        # cascade, so tenant_id needs no index of its own.
        Index("ix_agents_tenant_id_created_at_id", "tenant_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    template_id: Mapped[str] = mapped_column(String(64))
    agent_type: Mapped[str] = mapped_column(Text)
    business_type: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    knowledge_base_ids: Mapped[dict[str, str]] = mapped_column(JSON_VALUE)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AgentConfigVersionRecord(Base):
    __tablename__ = "agent_config_versions"
    __table_args__ = (
        # Two concurrent config updates cannot both write the same next version.
        UniqueConstraint("agent_id", "version", name="uq_agent_config_versions_agent_id_version"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # No foreign key of its own: the row goes with its agent, which goes with the tenant.
    tenant_id: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str] = mapped_column(String(64), ForeignKey("agents.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(BigInteger)
    # The whole AgentConfig (lead_capture and inputs included), so new fields need no migration.
    config: Mapped[dict[str, Any]] = mapped_column(JSON_VALUE)
    # The author, or "" (template, API key): no foreign key, authors may leave.
    user_id: Mapped[str] = mapped_column(String(64))
    model_known: Mapped[bool]
    created_at: Mapped[datetime]


class IntentionRecord(Base):
    __tablename__ = "agent_intentions"
    __table_args__ = (
        # Names are unique per agent regardless of case and surrounding spaces.
        UniqueConstraint("agent_id", "name_key", name="uq_agent_intentions_agent_id_name_key"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str] = mapped_column(String(64), ForeignKey("agents.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    name_key: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    examples: Mapped[list[str]] = mapped_column(JSON_VALUE)
    reply: Mapped[str] = mapped_column(Text)
    collect_fields: Mapped[list[str]] = mapped_column(JSON_VALUE)
    enabled: Mapped[bool]
    priority: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LeadRecord(Base):
    __tablename__ = "agent_leads"
    __table_args__ = (
        # One lead per person and agent: by email, and by phone, whichever are known.
        Index(
            "uq_agent_leads_tenant_id_agent_id_email",
            "tenant_id",
            "agent_id",
            "email",
            unique=True,
            postgresql_where=_EMAIL_SET,
            sqlite_where=_EMAIL_SET,
        ),
        Index(
            "uq_agent_leads_tenant_id_agent_id_phone",
            "tenant_id",
            "agent_id",
            "phone",
            unique=True,
            postgresql_where=_PHONE_SET,
            sqlite_where=_PHONE_SET,
        ),
        # The agent's leads, newest first.
        Index(
            "ix_agent_leads_tenant_id_agent_id_created_at", "tenant_id", "agent_id", "created_at"
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str] = mapped_column(String(64), ForeignKey("agents.id", ondelete="CASCADE"))
    # Conversations outlive their agent's leads and vice versa: plain ids, no foreign keys.
    conversation_id: Mapped[str] = mapped_column(String(64))
    external_user_id: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    first_name: Mapped[str] = mapped_column(Text)
    last_name: Mapped[str] = mapped_column(Text)
    email: Mapped[str] = mapped_column(Text)
    phone: Mapped[str] = mapped_column(Text)
    company: Mapped[str] = mapped_column(Text)
    intent: Mapped[str] = mapped_column(Text)
    lead_score: Mapped[int]
    lead_summary: Mapped[str] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON_VALUE)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


def intention_name_key(name: str) -> str:
    """What makes two intention names the same: case and surrounding spaces do not count."""
    return name.strip().lower()


def agent_to_row(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "tenant_id": agent.tenant_id,
        "name": agent.name,
        "description": agent.description,
        "template_id": agent.template_id,
        "agent_type": agent.agent_type,
        "business_type": agent.business_type,
        "url": agent.url,
        "knowledge_base_ids": dict(agent.knowledge_base_ids),
        "created_at": agent.created_at,
        "updated_at": agent.updated_at,
    }


def agent_to_domain(row: Row[Any]) -> Agent:
    return Agent(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        description=row.description,
        template_id=row.template_id,
        agent_type=row.agent_type,
        business_type=row.business_type,
        url=row.url,
        knowledge_base_ids=dict(row.knowledge_base_ids),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def config_version_to_row(version: AgentConfigVersion) -> dict[str, Any]:
    return {
        "id": version.id,
        "tenant_id": version.tenant_id,
        "agent_id": version.agent_id,
        "version": version.version,
        "config": msgspec.to_builtins(version.config),
        "user_id": version.user_id,
        "model_known": version.model_known,
        "created_at": version.created_at,
    }


def config_version_to_domain(row: Row[Any]) -> AgentConfigVersion:
    return AgentConfigVersion(
        id=row.id,
        tenant_id=row.tenant_id,
        agent_id=row.agent_id,
        version=row.version,
        # Fields missing from older rows take their defaults; unknown ones are ignored.
        config=msgspec.convert(row.config, AgentConfig),
        user_id=row.user_id,
        model_known=row.model_known,
        created_at=row.created_at,
    )


def intention_to_row(intention: Intention) -> dict[str, Any]:
    return {
        "id": intention.id,
        "tenant_id": intention.tenant_id,
        "agent_id": intention.agent_id,
        "name": intention.name,
        "name_key": intention_name_key(intention.name),
        "description": intention.description,
        "examples": list(intention.examples),
        "reply": intention.reply,
        "collect_fields": list(intention.collect_fields),
        "enabled": intention.enabled,
        "priority": intention.priority,
        "created_at": intention.created_at,
        "updated_at": intention.updated_at,
    }


def intention_to_domain(row: Row[Any]) -> Intention:
    return Intention(
        id=row.id,
        tenant_id=row.tenant_id,
        agent_id=row.agent_id,
        name=row.name,
        description=row.description,
        examples=list(row.examples),
        reply=row.reply,
        collect_fields=list(row.collect_fields),
        enabled=row.enabled,
        priority=row.priority,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


_LEAD_FIELDS = (
    "id",
    "tenant_id",
    "agent_id",
    "conversation_id",
    "external_user_id",
    "source",
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "intent",
    "lead_score",
    "lead_summary",
    "created_at",
    "updated_at",
)


def lead_to_row(lead: Lead) -> dict[str, Any]:
    row = {name: getattr(lead, name) for name in _LEAD_FIELDS}
    row["attributes"] = dict(lead.attributes)
    return row


def lead_to_domain(row: Row[Any]) -> Lead:
    fields = {name: getattr(row, name) for name in _LEAD_FIELDS}
    return Lead(**fields, attributes=dict(row.attributes))
