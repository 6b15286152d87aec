"""Every MappingService endpoint refuses another tenant's user and API key with 7 or 5 and
leaks nothing of the tenant's agents, configs, intentions or leads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.security.clock import SystemClock
from adapters.security.ids import UuidGenerator
from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.uow import SqlUnitOfWorkFactory
from application.agents.leads import RecordLead
from domain.agents.models import LeadSighting
from tests.e2e.agent_flows import (
    AGENTS,
    Client,
    create_agent,
    create_api_key,
    intentions_of,
    leads_of,
    list_agents,
)
from tests.e2e.flows import bearer, sign_up
from tests.e2e.tenancy_flows import current_tenant
from tests.support.mailbox import Mailbox

ALL_SCOPES = ("chat:write", "agents:read", "agents:write", "leads:read", "usage:read")
SECRET_NAME = "Tenant A secret agent"
SECRET_INSTRUCTIONS = "Tenant A secret instructions"
SECRET_INTENTION = "Tenant A secret intention"
SECRET_EMAIL = "secret-lead@tenant-a.example"


@dataclass
class TenantA:
    id: str
    owner: str
    agent_id: str
    intention_id: str
    lead_id: str

    def secrets(self) -> list[str]:
        return [self.id, SECRET_NAME, SECRET_INSTRUCTIONS, SECRET_INTENTION, SECRET_EMAIL]


async def tenant_a(client: Client, mailbox: Mailbox, database_url: str) -> TenantA:
    _, owner = await sign_up(client, mailbox)
    tenant_id = (await current_tenant(client, owner))["id"]
    agent_id = (await create_agent(client, owner, name=SECRET_NAME))["agent_id"]
    configured = await client.put(
        f"{AGENTS}/{agent_id}/config",
        json={"config": {"instructions": SECRET_INSTRUCTIONS, "max_tokens": 100}},
        headers=bearer(owner),
    )
    assert configured.status_code == 200, configured.text
    created = await client.post(
        f"{AGENTS}/{agent_id}/intentions",
        json={"intention": {"name": SECRET_INTENTION, "enabled": True}},
        headers=bearer(owner),
    )
    assert created.status_code == 200, created.text
    engine = create_engine(database_url)
    try:
        recorder = RecordLead(
            SqlUnitOfWorkFactory(create_sessionmaker(engine)), UuidGenerator(), SystemClock()
        )
        lead = await recorder.record(
            LeadSighting(tenant_id, agent_id, "c", "v", "web", email=SECRET_EMAIL)
        )
    finally:
        await engine.dispose()
    assert lead is not None
    return TenantA(tenant_id, owner, agent_id, created.json()["intention"]["id"], lead.id)


def assert_refused(response: Any, a: TenantA, allowed: tuple[int, ...] = (7, 5)) -> None:
    assert response.status_code in (403, 404), response.text
    assert response.json()["code"] in allowed, response.text
    for secret in a.secrets():
        assert secret not in response.text


async def requests_on(client: Client, a: TenantA, credential: str) -> list[Any]:
    """One request to every per-agent endpoint, aimed at tenant A's objects."""
    headers = bearer(credential)
    agent = f"{AGENTS}/{a.agent_id}"
    config = {"config": {"max_tokens": 10}}
    intention = {"intention": {"name": "Hijack", "enabled": True}}
    return [
        await client.put(agent, json={"name": "Mine", "description": ""}, headers=headers),
        await client.get(f"{agent}/config", headers=headers),
        await client.put(f"{agent}/config", json=config, headers=headers),
        await client.get(f"{agent}/config/versions", headers=headers),
        await client.get(f"{agent}/intentions", headers=headers),
        await client.post(f"{agent}/intentions", json=intention, headers=headers),
        await client.put(f"{agent}/intentions/{a.intention_id}", json=intention, headers=headers),
        await client.delete(f"{agent}/intentions/{a.intention_id}", headers=headers),
        await client.get(f"{agent}/leads", headers=headers),
        await client.delete(f"{agent}/leads/{a.lead_id}", headers=headers),
        await client.delete(agent, headers=headers),
    ]


async def assert_untouched(client: Client, a: TenantA) -> None:
    agents = await list_agents(client, a.owner)
    assert [(x["agent_id"], x["name"]) for x in agents] == [(a.agent_id, SECRET_NAME)]
    names = [i["name"] for i in await intentions_of(client, a.owner, a.agent_id)]
    assert SECRET_INTENTION in names
    assert "Hijack" not in names
    assert [lead["id"] for lead in (await leads_of(client, a.owner, a.agent_id))["leads"]] == [
        a.lead_id
    ]
    versions = await client.get(f"{AGENTS}/{a.agent_id}/config/versions", headers=bearer(a.owner))
    assert versions.json()["page"]["total"] == "2"


async def test_a_user_of_another_tenant_gets_nothing_of_its_agents(
    client: Client, mailbox: Mailbox, migrated_database_url: str
) -> None:
    a = await tenant_a(client, mailbox, migrated_database_url)
    _, eve = await sign_up(client, mailbox)
    await create_agent(client, eve)

    for response in await requests_on(client, a, eve):
        assert_refused(response, a)
    listed = await client.get(AGENTS, headers=bearer(eve))
    assert listed.status_code == 200
    assert all(secret not in listed.text for secret in a.secrets())
    assert_refused(
        await client.post(
            AGENTS, json={"template_id": "faq-assistant", "tenant_id": a.id}, headers=bearer(eve)
        ),
        a,
        (7,),
    )
    await assert_untouched(client, a)


async def test_an_api_key_of_another_tenant_gets_nothing_of_its_agents(
    client: Client, mailbox: Mailbox, migrated_database_url: str
) -> None:
    a = await tenant_a(client, mailbox, migrated_database_url)
    _, eve = await sign_up(client, mailbox)
    eves_key = await create_api_key(client, eve, *ALL_SCOPES)

    for response in await requests_on(client, a, eves_key):
        assert_refused(response, a)
    assert await list_agents(client, eves_key) == []
    assert_refused(
        await client.post(
            AGENTS,
            json={"template_id": "faq-assistant", "tenant_id": a.id},
            headers=bearer(eves_key),
        ),
        a,
        (7,),
    )
    await assert_untouched(client, a)
