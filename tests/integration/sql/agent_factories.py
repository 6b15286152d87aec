"""Plain factories with random ids for the agents-area repository and reader tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from domain.agents.models import (
    Agent,
    AgentConfig,
    AgentConfigVersion,
    Intention,
    Lead,
    LeadCapture,
)
from tests.integration.sql.factories import new_id, utc_now


def later(seconds: int, start: datetime | None = None) -> datetime:
    """A distinct moment, so ordering by creation time is deterministic."""
    return (start or utc_now()) + timedelta(seconds=seconds)


def make_agent(tenant_id: str, **overrides: Any) -> Agent:
    now = utc_now()
    values: dict[str, Any] = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "name": "Front desk",
        "description": "Answers questions about opening hours",
        "template_id": "customer-support",
        "agent_type": "support",
        "business_type": "retail",
        "url": "https://shop.example.com",
        "knowledge_base_ids": {"faq": "kb-1"},
        "created_at": now,
        "updated_at": now,
    }
    return Agent(**(values | overrides))


def make_config(**overrides: Any) -> AgentConfig:
    values: dict[str, Any] = {
        "instructions": "Be brief and friendly.",
        "welcome_message": "Hi! How can I help?",
        "fallback_message": "Let me find someone who knows.",
        "model": "tiny",
        "temperature": 0.2,
        "max_tokens": 256,
        "language": "es",
        "follow_up_questions": True,
        "lead_capture": LeadCapture(enabled=True, fields=["email", "phone"]),
        "inputs": {"store": "Madrid", "hours": {"open": 9, "close": 18}},
    }
    return AgentConfig(**(values | overrides))


def make_config_version(tenant_id: str, agent_id: str, **overrides: Any) -> AgentConfigVersion:
    values: dict[str, Any] = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "agent_id": agent_id,
        "version": 1,
        "config": make_config(),
        "user_id": new_id(),
        "model_known": True,
        "created_at": utc_now(),
    }
    return AgentConfigVersion(**(values | overrides))


def make_intention(tenant_id: str, agent_id: str, **overrides: Any) -> Intention:
    now = utc_now()
    values: dict[str, Any] = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "agent_id": agent_id,
        "name": f"intention {new_id()}",
        "description": "The customer asks about prices",
        "examples": ["how much is it?", "price list"],
        "reply": "Our prices are on the website.",
        "collect_fields": ["email"],
        "enabled": True,
        "priority": 0,
        "created_at": now,
        "updated_at": now,
    }
    return Intention(**(values | overrides))


def make_lead(tenant_id: str, agent_id: str, **overrides: Any) -> Lead:
    now = utc_now()
    values: dict[str, Any] = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "agent_id": agent_id,
        "conversation_id": new_id(),
        "external_user_id": "visitor-1",
        "source": "web",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": f"{new_id()}@example.com",
        "phone": "",
        "company": "Analytical Engines",
        "intent": "pricing",
        "lead_score": 70,
        "lead_summary": "Wants a quote",
        "attributes": {"budget": 1000, "tags": ["hot"]},
        "created_at": now,
        "updated_at": now,
    }
    return Lead(**(values | overrides))
