"""What a chat turn tells about the person behind it, as a lead sighting for the agent."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.agents.contacts import normalize_email, normalize_phone
from domain.agents.matching import match_intention
from domain.agents.models import Intention, LeadSighting
from domain.chat.leads import find_emails, find_phones, lead_score

MAX_SUMMARY_CHARS = 280


@dataclass(frozen=True, slots=True)
class TurnFacts:
    """The parts of a finished turn that can describe a lead."""

    tenant_id: str
    agent_id: str
    conversation_id: str
    external_user_id: str
    source: str
    message_content: str
    inputs: Mapping[str, Any]


def _input(inputs: Mapping[str, Any], name: str) -> str:
    value = inputs.get(name)
    return value.strip() if isinstance(value, str) else ""


def _first(values: list[str], normalize: Callable[[str], str]) -> str:
    for value in values:
        normalized = normalize(value)
        if normalized:
            return normalized
    return ""


def sighting_for(facts: TurnFacts, intentions: Sequence[Intention]) -> LeadSighting | None:
    """A sighting when the turn names an email or a phone (inputs first, then the message).

    - Names and company come from the inputs `first_name`, `last_name`, `company`.
    - `intent` is the name of the intention the message matches (lexical matching).
    - `lead_score` follows `domain.chat.leads.lead_score`.
    """
    email = normalize_email(_input(facts.inputs, "email")) or _first(
        find_emails(facts.message_content), normalize_email
    )
    phone = normalize_phone(_input(facts.inputs, "phone")) or _first(
        find_phones(facts.message_content), normalize_phone
    )
    if not email and not phone:
        return None
    first_name = _input(facts.inputs, "first_name")
    last_name = _input(facts.inputs, "last_name")
    matched = match_intention(facts.message_content, intentions)
    intent = matched.intention.name if matched else ""
    return LeadSighting(
        tenant_id=facts.tenant_id,
        agent_id=facts.agent_id,
        conversation_id=facts.conversation_id,
        external_user_id=facts.external_user_id,
        source=facts.source,
        email=email,
        phone=phone,
        first_name=first_name,
        last_name=last_name,
        company=_input(facts.inputs, "company"),
        intent=intent,
        lead_score=lead_score(
            has_email=bool(email),
            has_phone=bool(phone),
            has_name=bool(first_name or last_name),
            has_intent=bool(intent),
        ),
        lead_summary=facts.message_content[:MAX_SUMMARY_CHARS] if intent else "",
    )
