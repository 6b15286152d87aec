"""Creating agents from templates, listing, updating and deleting them."""

from __future__ import annotations

import pytest

from application.agents.commands import CreateAgentCommand, PageQuery, UpdateAgentCommand
from domain.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from domain.tenancy.models import Role
from domain.tenancy.policy import Scope
from tests.unit.agents.kit import AgentsKit


async def test_an_agent_copies_its_templates_config_and_intentions() -> None:
    kit = AgentsKit()
    tenant_id, owner = kit.owner()
    template = kit.use.templates.get("lead-qualification")
    assert template is not None

    agent = await kit.agent(owner, "lead-qualification", business_type="saas")

    assert (agent.tenant_id, agent.name, agent.description) == (
        tenant_id,
        template.name,
        template.description,
    )
    assert (agent.template_id, agent.agent_type, agent.business_type) == (
        "lead-qualification",
        template.agent_type,
        "saas",
    )
    view = await kit.use.get_config(owner, agent.id)
    assert view.config == template.config
    assert (view.created_at, view.updated_at) == (agent.created_at, agent.created_at)
    intentions = await kit.use.list_intentions(owner, agent.id)
    assert sorted(i.name for i in intentions) == sorted(i.name for i in template.intentions)
    assert all(i.enabled and i.tenant_id == tenant_id for i in intentions)
    page = await kit.use.config_versions(PageQuery(owner, agent.id))
    assert [(v.version, v.user_id) for v in page.versions] == [(1, owner.user_id)]


async def test_the_body_may_name_the_agent_and_must_name_the_callers_own_tenant_and_user() -> None:
    kit = AgentsKit()
    tenant_id, owner = kit.owner()
    named = await kit.agent(owner, name="  Help desk ", tenant_id=tenant_id, user_id=owner.user_id)
    assert named.name == "Help desk"

    other_tenant = kit.tenant()
    for body in ({"tenant_id": other_tenant}, {"user_id": "someone-else"}):
        with pytest.raises(PermissionDenied):
            await kit.agent(owner, **body)
    key = kit.key(tenant_id, Scope.AGENTS_WRITE)
    with pytest.raises(PermissionDenied):
        await kit.agent(key, user_id=owner.user_id)
    from_key = await kit.agent(key)
    page = await kit.use.config_versions(PageQuery(owner, from_key.id))
    assert page.versions[0].user_id == ""


async def test_unknown_template_and_bad_fields_are_refused_naming_the_field() -> None:
    kit = AgentsKit()
    _, owner = kit.owner()
    with pytest.raises(NotFound, match="template_id"):
        await kit.agent(owner, "no-such-template")
    for body, field in (
        ({"url": "ftp://files.example"}, "url"),
        ({"name": "x" * 101}, "name"),
        ({"description": "x" * 1001}, "description"),
    ):
        with pytest.raises(InvalidArgument) as excinfo:
            await kit.agent(owner, **body)
        assert excinfo.value.field == field
    with pytest.raises(InvalidArgument) as kb_error:
        await kit.use.create(
            CreateAgentCommand(
                caller=owner,
                template_id="faq-assistant",
                knowledge_base_ids={f"kb{i}": "x" for i in range(51)},
            )
        )
    assert kb_error.value.field == "knowledge_base_ids"
    assert await kit.use.list(owner) == []


async def test_the_plans_agent_limit_is_enforced() -> None:
    kit = AgentsKit()
    _, owner = kit.owner()  # a new tenant is on the trial: 3 agents
    for template in ("faq-assistant", "lead-qualification", "customer-support"):
        await kit.agent(owner, template)
    with pytest.raises(FailedPrecondition, match="USAGE_AI_AGENT"):
        await kit.agent(owner)
    assert len(await kit.use.list(owner)) == 3


async def test_roles_and_scopes_decide_who_writes_and_reads() -> None:
    kit = AgentsKit()
    tenant_id, owner = kit.owner()
    agent = await kit.agent(owner)
    admin = kit.member(tenant_id, Role.ADMIN)
    normal = kit.member(tenant_id, Role.NORMAL)
    reader = kit.key(tenant_id, Scope.AGENTS_READ)
    chat_only = kit.key(tenant_id, Scope.CHAT_WRITE)

    await kit.agent(admin)
    for refused in (normal, reader, chat_only):
        with pytest.raises(PermissionDenied):
            await kit.agent(refused)
        with pytest.raises(PermissionDenied):
            await kit.use.update(UpdateAgentCommand(refused, agent.id, "New", ""))
        with pytest.raises(PermissionDenied):
            await kit.use.delete(refused, agent.id)
    assert len(await kit.use.list(normal)) == 2
    assert len(await kit.use.list(reader)) == 2
    with pytest.raises(PermissionDenied):
        await kit.use.list(chat_only)
    with pytest.raises(PermissionDenied):
        await kit.use.list_templates(chat_only)
    assert len(await kit.use.list_templates(reader)) >= 3


async def test_update_and_delete_touch_only_the_callers_tenant() -> None:
    kit = AgentsKit()
    _, owner = kit.owner()
    _, stranger = kit.owner()
    agent = await kit.agent(owner)
    kit.clock.advance(minutes=1)

    with pytest.raises(NotFound):
        await kit.use.update(UpdateAgentCommand(stranger, agent.id, "Mine now", ""))
    with pytest.raises(NotFound):
        await kit.use.delete(stranger, agent.id)
    assert await kit.use.list(stranger) == []

    updated = await kit.use.update(UpdateAgentCommand(owner, agent.id, " Renamed ", "About"))
    assert (updated.name, updated.description) == ("Renamed", "About")
    assert updated.updated_at > updated.created_at
    with pytest.raises(InvalidArgument) as excinfo:
        await kit.use.update(UpdateAgentCommand(owner, agent.id, "", ""))
    assert excinfo.value.field == "name"

    await kit.use.delete(owner, agent.id)
    assert await kit.use.list(owner) == []
    with pytest.raises(NotFound):
        await kit.use.delete(owner, agent.id)
    with pytest.raises(NotFound):
        await kit.use.get_config(owner, agent.id)
