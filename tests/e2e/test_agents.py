"""MappingService over HTTP on PostgreSQL + Redis: templates, agents, config versions,
intentions and leads (contract §4), with the refusals it lists."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from adapters.security.clock import SystemClock
from adapters.security.ids import UuidGenerator
from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.uow import SqlUnitOfWorkFactory
from application.agents.leads import RecordLead
from domain.agents.models import LeadSighting
from domain.tenancy.models import Role
from tests.e2e.agent_flows import (
    AGENTS,
    TEMPLATES,
    Client,
    create_agent,
    create_api_key,
    intentions_of,
    join_as,
    leads_of,
    list_agents,
)
from tests.e2e.flows import bearer, sign_up
from tests.e2e.tenancy_flows import assert_error, current_tenant
from tests.support.mailbox import Mailbox

AGENT_FIELDS = {
    "agent_id",
    "tenant_id",
    "name",
    "description",
    "template_id",
    "agent_type",
    "business_type",
    "url",
    "knowledge_base_ids",
    "created_at",
    "updated_at",
}
CONFIG_FIELDS = {
    "instructions",
    "welcome_message",
    "fallback_message",
    "model",
    "temperature",
    "max_tokens",
    "language",
    "follow_up_questions",
    "lead_capture",
    "inputs",
}
INTENTION_FIELDS = {
    "id",
    "name",
    "description",
    "examples",
    "reply",
    "collect_fields",
    "enabled",
    "priority",
    "created_at",
    "updated_at",
}


async def record_leads(database_url: str, *sightings: LeadSighting) -> None:
    """What the chat capability does: the real `RecordLead` on the run's PostgreSQL (its own
    engine: the app's runs on the test client's event loop)."""
    engine = create_engine(database_url)
    try:
        recorder = RecordLead(
            SqlUnitOfWorkFactory(create_sessionmaker(engine)), UuidGenerator(), SystemClock()
        )
        for sighting in sightings:
            assert await recorder.record(sighting) is not None
    finally:
        await engine.dispose()


def full_config(**changes: Any) -> dict[str, Any]:
    return {
        "instructions": "Answer in one sentence.",
        "welcome_message": "Hi!",
        "fallback_message": "Sorry?",
        "model": "gpt-4o-mini",
        "temperature": 0.2,
        "max_tokens": 300,
        "language": "es",
        "follow_up_questions": True,
        "lead_capture": {"enabled": True, "fields": ["email"]},
        "inputs": {"tone": "warm"},
    } | changes


async def test_a_tenant_builds_an_agent_from_each_template_up_to_its_plans_limit(
    client: Client, mailbox: Mailbox
) -> None:
    _, owner = await sign_up(client, mailbox)
    tenant_id = (await current_tenant(client, owner))["id"]
    listed = await client.get(TEMPLATES, headers=bearer(owner))
    assert listed.status_code == 200, listed.text
    templates = listed.json()["templates"]
    assert len(templates) >= 3
    for template in templates:
        assert set(template) == {"id", "name", "description", "agent_type", "config", "intentions"}
        assert set(template["config"]) == CONFIG_FIELDS
        assert template["intentions"]
        assert all(set(i) == INTENTION_FIELDS for i in template["intentions"])

    created = []
    for template in templates[:3]:
        agent = await create_agent(client, owner, template["id"], url="https://shop.example")
        assert set(agent) == {"agent_id", "name", "description", "created_at", "updated_at"}
        assert agent["name"] == template["name"]
        assert agent["created_at"].endswith("Z")
        names = {i["name"] for i in await intentions_of(client, owner, agent["agent_id"])}
        assert names == {i["name"] for i in template["intentions"]}
        config = await client.get(f"{AGENTS}/{agent['agent_id']}/config", headers=bearer(owner))
        assert config.json()["config"] == template["config"]
        created.append(agent["agent_id"])

    over_limit = await client.post(
        AGENTS, json={"template_id": templates[0]["id"]}, headers=bearer(owner)
    )
    assert_error(over_limit, 402, 9)
    agents = await list_agents(client, owner)
    assert [a["agent_id"] for a in agents] == created
    assert all(set(a) == AGENT_FIELDS and a["tenant_id"] == tenant_id for a in agents)
    assert agents[0]["url"] == "https://shop.example"
    assert agents[0]["knowledge_base_ids"] == {}


async def test_create_refusals(client: Client, mailbox: Mailbox) -> None:
    _, owner = await sign_up(client, mailbox)
    _, stranger = await sign_up(client, mailbox)
    strangers_tenant = (await current_tenant(client, stranger))["id"]
    cases = [
        ({"template_id": "nope"}, 404, 5, "template_id"),
        ({"template_id": "faq-assistant", "url": "ftp://x"}, 400, 3, "url"),
        ({"template_id": "faq-assistant", "name": "x" * 101}, 400, 3, "name"),
        ({"template_id": "faq-assistant", "tenant_id": strangers_tenant}, 403, 7, ""),
        ({"template_id": "faq-assistant", "user_id": "someone-else"}, 403, 7, ""),
        ({"template_id": "faq-assistant", "knowledge_base_ids": ["x"]}, 400, 3, ""),
    ]
    for body, status, code, field in cases:
        response = await client.post(AGENTS, json=body, headers=bearer(owner))
        assert_error(response, status, code)
        assert field in response.json()["message"]
    assert await list_agents(client, owner) == []


async def test_config_updates_make_versions_with_their_author(
    client: Client, mailbox: Mailbox
) -> None:
    _, owner = await sign_up(client, mailbox)
    me = (await client.get("/account/v1/user", headers=bearer(owner))).json()["user"]
    agent_id = (await create_agent(client, owner))["agent_id"]
    url = f"{AGENTS}/{agent_id}/config"
    before = (await client.get(url, headers=bearer(owner))).json()
    assert set(before) == {"id", "agent_id", "config", "created_at", "updated_at"}

    missing_tokens = full_config()
    del missing_tokens["max_tokens"]  # §1.3: missing → 0, which is out of range
    for config, field in (
        (missing_tokens, "config.max_tokens"),
        (full_config(temperature=2.5), "config.temperature"),
        (full_config(lead_capture={"enabled": True, "fields": ["bad field"]}), "fields[0]"),
    ):
        refused = await client.put(url, json={"config": config}, headers=bearer(owner))
        assert_error(refused, 400, 3)
        assert field in refused.json()["message"]
    assert_error(await client.put(url, json={}, headers=bearer(owner)), 400, 3)
    assert_error(
        await client.put(
            url, json={"config": full_config(), "user_id": "not-me"}, headers=bearer(owner)
        ),
        403,
        7,
    )

    saved = await client.put(
        url,
        json={"config": full_config(model="my-own-model"), "user_id": me["id"]},
        headers=bearer(owner),
    )
    assert saved.status_code == 200, saved.text
    assert set(saved.json()) == {"agent_id", "config", "updated_at"}
    assert saved.json()["config"] == full_config(model="my-own-model")
    writer = await create_api_key(client, owner, "agents:write")
    again = await client.put(url, json={"config": full_config()}, headers=bearer(writer))
    assert again.status_code == 200, again.text

    current = (await client.get(url, headers=bearer(owner))).json()
    assert current["id"] != before["id"]
    assert current["created_at"] == before["created_at"]
    assert current["updated_at"] == again.json()["updated_at"]
    versions = await client.get(f"{url}/versions?limit=2", headers=bearer(owner))
    assert versions.status_code == 200, versions.text
    body = versions.json()
    assert [(v["version"], v["user_id"]) for v in body["versions"]] == [
        ("3", ""),
        ("2", me["id"]),
    ]
    assert body["versions"][1]["config"]["model"] == "my-own-model"
    assert body["page"] == {"page": "1", "limit": "2", "total": "3"}
    second = (await client.get(f"{url}/versions?page=2&limit=2", headers=bearer(owner))).json()
    assert [v["version"] for v in second["versions"]] == ["1"]
    assert_error(await client.get(f"{url}/versions?limit=101", headers=bearer(owner)), 400, 3)


async def test_update_and_delete_an_agent(client: Client, mailbox: Mailbox) -> None:
    _, owner = await sign_up(client, mailbox)
    agent_id = (await create_agent(client, owner))["agent_id"]
    updated = await client.put(
        f"{AGENTS}/{agent_id}",
        json={"name": "Front desk", "description": "Answers visitors"},
        headers=bearer(owner),
    )
    assert updated.status_code == 200, updated.text
    assert set(updated.json()) == {"agent_id", "name", "description", "updated_at"}
    assert (await list_agents(client, owner))[0]["name"] == "Front desk"
    assert_error(
        await client.put(f"{AGENTS}/{agent_id}", json={"name": " "}, headers=bearer(owner)),
        400,
        3,
    )

    deleted = await client.delete(f"{AGENTS}/{agent_id}", headers=bearer(owner))
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {}
    assert await list_agents(client, owner) == []
    for response in (
        await client.delete(f"{AGENTS}/{agent_id}", headers=bearer(owner)),
        await client.get(f"{AGENTS}/{agent_id}/config", headers=bearer(owner)),
        await client.get(f"{AGENTS}/{agent_id}/intentions", headers=bearer(owner)),
    ):
        assert_error(response, 404, 5)


async def test_intentions_lifecycle(client: Client, mailbox: Mailbox) -> None:
    _, owner = await sign_up(client, mailbox)
    agent_id = (await create_agent(client, owner, "customer-support"))["agent_id"]
    url = f"{AGENTS}/{agent_id}/intentions"
    starters = await intentions_of(client, owner, agent_id)
    listed = (await client.get(url, headers=bearer(owner))).json()
    assert listed["agent_id"] == agent_id
    assert all(set(i) == INTENTION_FIELDS for i in starters)

    created = await client.post(
        url,
        json={"intention": {"id": "client-chosen", "name": "Warranty", "priority": 5}},
        headers=bearer(owner),
    )
    assert created.status_code == 200, created.text
    intention = created.json()["intention"]
    assert intention["id"] != "client-chosen"
    assert intention["enabled"] is False  # §1.3: a missing bool is false

    duplicate = await client.post(
        url, json={"intention": {"name": "WARRANTY"}}, headers=bearer(owner)
    )
    assert_error(duplicate, 409, 6)
    assert "intention.name" in duplicate.json()["message"]
    assert_error(
        await client.post(url, json={"intention": {"name": "x" * 101}}, headers=bearer(owner)),
        400,
        3,
    )

    replaced = await client.put(
        f"{url}/{intention['id']}",
        json={"intention": {"name": "Warranty claims", "enabled": True, "examples": ["broken"]}},
        headers=bearer(owner),
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["intention"]["examples"] == ["broken"]
    assert len(await intentions_of(client, owner, agent_id)) == len(starters) + 1

    deleted = await client.delete(f"{url}/{intention['id']}", headers=bearer(owner))
    assert (deleted.status_code, deleted.json()) == (200, {})
    assert_error(await client.delete(f"{url}/{intention['id']}", headers=bearer(owner)), 404, 5)
    assert len(await intentions_of(client, owner, agent_id)) == len(starters)


async def test_leads_are_listed_newest_first_and_deleted(
    client: Client, mailbox: Mailbox, migrated_database_url: str
) -> None:
    _, owner = await sign_up(client, mailbox)
    tenant_id = (await current_tenant(client, owner))["id"]
    agent_id = (await create_agent(client, owner, "lead-qualification"))["agent_id"]
    seen = LeadSighting(tenant_id, agent_id, "conv", "visitor", "web")
    await record_leads(
        migrated_database_url,
        replace(seen, email="first@example.com"),
        replace(seen, email="second@example.com"),
        replace(seen, email="FIRST@example.com", lead_score=80),
    )

    body = await leads_of(client, owner, agent_id)
    assert [lead["email"] for lead in body["leads"]][:2] == [
        "second@example.com",
        "first@example.com",
    ]
    assert body["page"]["total"] == "2"
    first = body["leads"][1]
    assert first["lead_score"] == 80
    assert first["attributes"] == {}
    reader = await create_api_key(client, owner, "leads:read")
    assert (await leads_of(client, reader, agent_id))["page"]["total"] == "2"
    assert_error(
        await client.delete(f"{AGENTS}/{agent_id}/leads/{first['id']}", headers=bearer(reader)),
        403,
        7,
    )
    deleted = await client.delete(f"{AGENTS}/{agent_id}/leads/{first['id']}", headers=bearer(owner))
    assert (deleted.status_code, deleted.json()) == (200, {})
    assert_error(
        await client.delete(f"{AGENTS}/{agent_id}/leads/{first['id']}", headers=bearer(owner)),
        404,
        5,
    )
    assert (await leads_of(client, owner, agent_id))["page"]["total"] == "1"


async def test_api_key_scopes(client: Client, mailbox: Mailbox) -> None:
    _, owner = await sign_up(client, mailbox)
    agents_read = await create_api_key(client, owner, "agents:read")
    agents_write = await create_api_key(client, owner, "agents:write")
    chat_only = await create_api_key(client, owner, "chat:write")

    created = await create_agent(client, agents_write, "faq-assistant")
    body = {"template_id": "faq-assistant"}
    assert_error(
        await client.post(AGENTS, json=body, headers=bearer(agents_read)),
        403,
        7,
    )
    assert [a["agent_id"] for a in await list_agents(client, agents_read)] == [created["agent_id"]]
    assert_error(await client.get(AGENTS, headers=bearer(chat_only)), 403, 7)
    assert_error(
        await client.get(f"{AGENTS}/{created['agent_id']}/leads", headers=bearer(agents_read)),
        403,
        7,
    )
    assert_error(await client.get(AGENTS, headers=bearer("sk_live_nope_nope")), 401, 16)
    assert_error(await client.get(AGENTS), 401, 16)


async def test_openapi_lists_every_mapping_service_operation(client: Client) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    operations = {
        op["operationId"]: op["tags"]
        for path in spec["paths"].values()
        for op in path.values()
        if isinstance(op, dict) and "operationId" in op
    }
    for name in (
        "GetAgentList",
        "ListTemplates",
        "CreateAgentFromTemplate",
        "UpdateAgent",
        "DeleteAgent",
        "GetAgentConfig",
        "UpdateAgentConfig",
        "ListAgentConfigVersions",
        "GetAgentIntentions",
        "CreateAgentIntention",
        "UpdateAgentIntention",
        "DeleteAgentIntention",
        "GetAgentLeadList",
        "DeleteAgentLead",
    ):
        assert operations[name] == ["MappingService"], name


async def test_members_roles_decide_who_may_change_agents(
    client: Client, mailbox: Mailbox, migrated_database_url: str
) -> None:
    _, owner = await sign_up(client, mailbox)
    tenant_id = (await current_tenant(client, owner))["id"]
    agent_id = (await create_agent(client, owner))["agent_id"]
    _, admin = await sign_up(client, mailbox)
    _, normal = await sign_up(client, mailbox)
    await join_as(migrated_database_url, client, admin, tenant_id, Role.ADMIN)
    await join_as(migrated_database_url, client, normal, tenant_id, Role.NORMAL)
    agent = f"{AGENTS}/{agent_id}"
    intention = {"intention": {"name": "Members", "enabled": True}}

    assert [a["agent_id"] for a in await list_agents(client, normal)] == [agent_id]
    assert await intentions_of(client, normal, agent_id)
    assert (await leads_of(client, normal, agent_id))["leads"] == []
    config = await client.get(f"{agent}/config", headers=bearer(normal))
    assert config.status_code == 200, config.text
    for response in (
        await client.post(AGENTS, json={"template_id": "faq-assistant"}, headers=bearer(normal)),
        await client.put(agent, json={"name": "Mine"}, headers=bearer(normal)),
        await client.put(f"{agent}/config", json={"config": full_config()}, headers=bearer(normal)),
        await client.post(f"{agent}/intentions", json=intention, headers=bearer(normal)),
        await client.delete(f"{agent}/leads/any", headers=bearer(normal)),
        await client.delete(agent, headers=bearer(normal)),
    ):
        assert_error(response, 403, 7)

    created = await client.post(f"{agent}/intentions", json=intention, headers=bearer(admin))
    assert created.status_code == 200, created.text
    renamed = await client.put(agent, json={"name": "By admin"}, headers=bearer(admin))
    assert renamed.status_code == 200, renamed.text
    assert (await list_agents(client, owner))[0]["name"] == "By admin"
