"""Pure lead rules: a new lead from a first sighting, and merging later sightings into it."""

from __future__ import annotations

from datetime import datetime

from domain.agents.models import Lead, LeadSighting


def new_lead(lead_id: str, sighting: LeadSighting, now: datetime) -> Lead:
    return Lead(
        id=lead_id,
        tenant_id=sighting.tenant_id,
        agent_id=sighting.agent_id,
        conversation_id=sighting.conversation_id,
        external_user_id=sighting.external_user_id,
        source=sighting.source,
        first_name=sighting.first_name,
        last_name=sighting.last_name,
        email=sighting.email,
        phone=sighting.phone,
        company=sighting.company,
        intent=sighting.intent,
        lead_score=sighting.lead_score,
        lead_summary=sighting.lead_summary,
        attributes=dict(sighting.attributes),
        created_at=now,
        updated_at=now,
    )


def merge_sighting(lead: Lead, sighting: LeadSighting, now: datetime) -> Lead:
    """Fold what a later chat turn learned into `lead` (changed in place and returned).

    - An empty value never erases a known one; a non-empty one replaces it (people correct
      typos), so `intent` ends up the latest non-empty one.
    - `lead_score` only rises: it is the strongest interest ever shown.
    - `attributes` are merged key by key, the sighting winning.
    """
    for name in (
        "conversation_id",
        "external_user_id",
        "source",
        "first_name",
        "last_name",
        "email",
        "phone",
        "company",
        "intent",
        "lead_summary",
    ):
        value = getattr(sighting, name)
        if value:
            setattr(lead, name, value)
    lead.lead_score = max(lead.lead_score, sighting.lead_score)
    lead.attributes = {**lead.attributes, **sighting.attributes}
    lead.updated_at = now
    return lead
