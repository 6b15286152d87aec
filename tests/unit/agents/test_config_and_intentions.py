"""Config versions and intentions of an agent."""

from __future__ import annotations

from dataclasses import replace

import pytest

from application.agents.commands import (
    CreateIntentionCommand,
    IntentionInput,
    PageQuery,
    UpdateConfigCommand,
    UpdateIntentionCommand,
)
from domain.agents.models import AgentConfig
from domain.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from domain.tenancy.models import Role
from domain.tenancy.policy import Scope
from tests.unit.agents.kit import AgentsKit


async def test_each_config_update_is_a_new_version_with_its_author() -> None:
    kit = AgentsKit()
    tenant_id, owner = kit.owner()
    admin = kit.member(tenant_id, Role.ADMIN)
    agent = await kit.agent(owner)
    first = await kit.use.get_config(owner, agent.id)

    kit.clock.advance(minutes=1)
    config = AgentConfig(instructions="Be brief.", model="my-finetune", max_tokens=100)
    saved = await kit.use.update_config(UpdateConfigCommand(admin, agent.id, config))
    assert (saved.version, saved.user_id, saved.model_known) == (2, admin.user_id, False)
    kit.clock.advance(minutes=1)
    third = await kit.use.update_config(
        UpdateConfigCommand(owner, agent.id, replace(config, model="gpt-4o"), owner.user_id)
    )
    assert (third.version, third.model_known) == (3, True)

    view = await kit.use.get_config(owner, agent.id)
    assert view.id == third.id != first.id
    assert view.config.model == "gpt-4o"
    assert (view.created_at, view.updated_at) == (agent.created_at, third.created_at)
    page = await kit.use.config_versions(PageQuery(owner, agent.id, page=1, limit=2))
    assert [v.version for v in page.versions] == [3, 2]
    assert page.total == 3
    rest = await kit.use.config_versions(PageQuery(owner, agent.id, page=2, limit=2))
    assert [v.version for v in rest.versions] == [1]


async def test_config_updates_are_validated_and_authorized() -> None:
    kit = AgentsKit()
    tenant_id, owner = kit.owner()
    agent = await kit.agent(owner)
    with pytest.raises(InvalidArgument) as excinfo:
        await kit.use.update_config(
            UpdateConfigCommand(owner, agent.id, AgentConfig(temperature=2.5))
        )
    assert excinfo.value.field == "config.temperature"
    with pytest.raises(PermissionDenied):
        await kit.use.update_config(
            UpdateConfigCommand(owner, agent.id, AgentConfig(), user_id="someone-else")
        )
    for refused in (kit.member(tenant_id, Role.NORMAL), kit.key(tenant_id, Scope.AGENTS_READ)):
        with pytest.raises(PermissionDenied):
            await kit.use.update_config(UpdateConfigCommand(refused, agent.id, AgentConfig()))
    _, stranger = kit.owner()
    with pytest.raises(NotFound):
        await kit.use.update_config(UpdateConfigCommand(stranger, agent.id, AgentConfig()))
    with pytest.raises(NotFound):
        await kit.use.config_versions(PageQuery(stranger, agent.id))
    with pytest.raises(InvalidArgument) as paging:
        await kit.use.config_versions(PageQuery(owner, agent.id, limit=101))
    assert paging.value.field == "limit"
    assert (await kit.use.config_versions(PageQuery(owner, agent.id))).total == 1


def intention(**fields: object) -> IntentionInput:
    base = IntentionInput(name="Refunds", examples=["refund please"], enabled=True)
    return replace(base, **fields)  # type: ignore[arg-type]


async def test_intentions_are_created_listed_replaced_and_deleted() -> None:
    kit = AgentsKit()
    _, owner = kit.owner()
    agent = await kit.agent(owner)
    before = await kit.use.list_intentions(owner, agent.id)

    created = await kit.use.create_intention(
        CreateIntentionCommand(owner, agent.id, intention(priority=1000, collect_fields=["email"]))
    )
    listed = await kit.use.list_intentions(owner, agent.id)
    assert listed[0].id == created.id  # highest priority first
    assert len(listed) == len(before) + 1

    kit.clock.advance(minutes=1)
    replaced = await kit.use.update_intention(
        UpdateIntentionCommand(owner, agent.id, created.id, IntentionInput(name="Refund policy"))
    )
    assert (replaced.name, replaced.examples, replaced.enabled, replaced.priority) == (
        "Refund policy",
        [],
        False,
        0,
    )
    assert replaced.updated_at > replaced.created_at

    await kit.use.delete_intention(owner, agent.id, created.id)
    assert len(await kit.use.list_intentions(owner, agent.id)) == len(before)
    with pytest.raises(NotFound):
        await kit.use.delete_intention(owner, agent.id, created.id)
    with pytest.raises(NotFound):
        await kit.use.update_intention(
            UpdateIntentionCommand(owner, agent.id, created.id, intention())
        )


async def test_intention_names_are_unique_per_agent_ignoring_case() -> None:
    kit = AgentsKit()
    _, owner = kit.owner()
    agent = await kit.agent(owner)
    other = await kit.agent(owner, "customer-support")
    existing = (await kit.use.list_intentions(owner, agent.id))[0]

    with pytest.raises(AlreadyExists, match=r"intention\.name"):
        await kit.use.create_intention(
            CreateIntentionCommand(owner, agent.id, intention(name=existing.name.upper()))
        )
    await kit.use.create_intention(
        CreateIntentionCommand(owner, other.id, intention(name=existing.name))
    )
    mine = await kit.use.create_intention(CreateIntentionCommand(owner, agent.id, intention()))
    with pytest.raises(AlreadyExists):
        await kit.use.update_intention(
            UpdateIntentionCommand(owner, agent.id, mine.id, intention(name=existing.name))
        )
    renamed = await kit.use.update_intention(
        UpdateIntentionCommand(owner, agent.id, mine.id, intention(name="REFUNDS"))
    )
    assert renamed.name == "REFUNDS"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": " "}, "intention.name"),
        ({"name": "x" * 101}, "intention.name"),
        ({"description": "x" * 501}, "intention.description"),
        ({"examples": ["x"] * 51}, "intention.examples"),
        ({"examples": ["x" * 501]}, "intention.examples[0]"),
        ({"reply": "x" * 4001}, "intention.reply"),
        ({"collect_fields": ["ok", "not ok"]}, "intention.collect_fields[1]"),
        ({"collect_fields": [f"f{i}" for i in range(21)]}, "intention.collect_fields"),
        ({"priority": -1001}, "intention.priority"),
    ],
)
async def test_intention_bounds_name_the_field(fields: dict[str, object], field: str) -> None:
    kit = AgentsKit()
    _, owner = kit.owner()
    agent = await kit.agent(owner)
    with pytest.raises(InvalidArgument) as excinfo:
        await kit.use.create_intention(CreateIntentionCommand(owner, agent.id, intention(**fields)))
    assert excinfo.value.field == field


async def test_intentions_of_another_tenant_are_not_found_and_need_write_access() -> None:
    kit = AgentsKit()
    tenant_id, owner = kit.owner()
    agent = await kit.agent(owner)
    some = (await kit.use.list_intentions(owner, agent.id))[0]
    _, stranger = kit.owner()
    with pytest.raises(NotFound):
        await kit.use.list_intentions(stranger, agent.id)
    with pytest.raises(NotFound):
        await kit.use.delete_intention(stranger, agent.id, some.id)
    normal = kit.member(tenant_id, Role.NORMAL)
    assert len(await kit.use.list_intentions(normal, agent.id)) >= 1
    with pytest.raises(PermissionDenied):
        await kit.use.create_intention(CreateIntentionCommand(normal, agent.id, intention()))
