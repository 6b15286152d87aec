"""Agents of a tenant: templates, create from a template, list, update and delete."""

from __future__ import annotations

from application.agents.commands import CreateAgentCommand, UpdateAgentCommand
from application.agents.ports import AgentReader, TemplateCatalog
from application.billing.limits import check_plan_limit
from application.billing.subscriptions import BillingPolicy
from application.common.caller import Caller, CredentialKind
from application.common.ports import Clock, IdGenerator, UnitOfWork, UnitOfWorkFactory
from application.tenancy.access import authorize
from domain.agents.models import Agent, AgentConfigVersion, Intention, Template
from domain.agents.rules import (
    clean_agent_description,
    clean_agent_name,
    clean_knowledge_base_ids,
    clean_label,
    clean_url,
    is_known_model,
)
from domain.billing.plans import UsageCategory
from domain.errors import NotFound, PermissionDenied
from domain.tenancy.policy import Action

AGENT_NOT_FOUND = "agent not found"


async def agent_of(uow: UnitOfWork, caller: Caller, action: Action, agent_id: str) -> Agent:
    """Authorize `action` in the caller's tenant and load one of its agents.

    Another tenant's agent is indistinguishable from a missing one (`NotFound`), so ids of
    other tenants leak nothing.
    """
    access = await authorize(uow, caller, action)
    agent = await uow.agents.get(access.tenant_id, agent_id) if agent_id else None
    if agent is None:
        raise NotFound(AGENT_NOT_FOUND)
    return agent


def check_own_user_id(caller: Caller, user_id: str) -> None:
    """A body's `user_id`, when given, must be the caller's own (§4); keys have none."""
    if user_id and user_id != caller.user_id:
        raise PermissionDenied("user_id must be your own")


class ListTemplates:
    """ListTemplates (ext): the bundled templates; any credential that may read agents."""

    def __init__(self, uow_factory: UnitOfWorkFactory, catalog: TemplateCatalog) -> None:
        self._uow = uow_factory
        self._catalog = catalog

    async def __call__(self, caller: Caller) -> list[Template]:
        async with self._uow() as uow:
            await authorize(uow, caller, Action.READ_AGENTS)
        return self._catalog.list()


class CreateAgentFromTemplate:
    """CreateAgentFromTemplate: a new agent with the template's config and intentions.

    - `tenant_id` / `user_id` in the body, when given, must be the caller's → `PermissionDenied`.
    - Needs WRITE_AGENTS (owner, admin, `agents:write`).
    - Unknown template → `NotFound` naming `template_id`.
    - Beyond the plan's USAGE_AI_AGENT limit → `FailedPrecondition`; the tenant row is locked
      while counting so two concurrent creations cannot both slip under the limit.
    - Empty name / description / agent_type take the template's.
    - `update_kb` is accepted and ignored: there is no knowledge-base service yet.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        catalog: TemplateCatalog,
        ids: IdGenerator,
        clock: Clock,
        billing_policy: BillingPolicy,
    ) -> None:
        self._uow = uow_factory
        self._catalog = catalog
        self._ids = ids
        self._clock = clock
        self._billing_policy = billing_policy

    async def __call__(self, command: CreateAgentCommand) -> Agent:
        caller = command.caller
        check_own_user_id(caller, command.user_id)
        now = self._clock.now()
        async with self._uow() as uow:
            access = await authorize(uow, caller, Action.WRITE_AGENTS, command.tenant_id.strip())
            # Looked up after authorization, so a stranger cannot probe which templates exist.
            template = self._catalog.get(command.template_id.strip())
            if template is None:
                raise NotFound(f"template_id: no template {command.template_id.strip()!r}")
            name = clean_agent_name(command.name.strip() or template.name)
            description = clean_agent_description(
                command.description.strip() or template.description
            )
            url = clean_url(command.url)
            knowledge_base_ids = clean_knowledge_base_ids(command.knowledge_base_ids)
            business_type = clean_label(command.business_type, "business_type")
            agent_type = clean_label(
                command.agent_type.strip() or template.agent_type, "agent_type"
            )
            tenant_id = access.tenant_id
            await uow.tenants.lock(tenant_id)
            count = await uow.agents.count(tenant_id)
            await check_plan_limit(
                uow, tenant_id, UsageCategory.USAGE_AI_AGENT, count, now, self._billing_policy
            )
            agent = Agent(
                id=self._ids.new_id(),
                tenant_id=tenant_id,
                name=name,
                description=description,
                template_id=template.id,
                agent_type=agent_type,
                business_type=business_type,
                url=url,
                knowledge_base_ids=knowledge_base_ids,
                created_at=now,
                updated_at=now,
            )
            await uow.agents.add(agent)
            await uow.agent_configs.add(
                AgentConfigVersion(
                    id=self._ids.new_id(),
                    tenant_id=tenant_id,
                    agent_id=agent.id,
                    version=1,
                    config=template.config,
                    user_id=caller.user_id,
                    model_known=is_known_model(template.config.model),
                    created_at=now,
                )
            )
            for item in template.intentions:
                await uow.intentions.add(
                    Intention(
                        id=self._ids.new_id(),
                        tenant_id=tenant_id,
                        agent_id=agent.id,
                        name=item.name,
                        description=item.description,
                        examples=list(item.examples),
                        reply=item.reply,
                        collect_fields=list(item.collect_fields),
                        enabled=True,
                        priority=item.priority,
                        created_at=now,
                        updated_at=now,
                    )
                )
            await uow.commit()
        return agent


class GetAgentList:
    """GetAgentList: the tenant's agents, oldest first, from the read model.

    - Needs READ_AGENTS (any member, `agents:read` / `agents:write`). An API key is authorized
      without a database round trip, and the read model may be cached (see `AgentReader`).
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, reader: AgentReader) -> None:
        self._uow = uow_factory
        self._reader = reader

    async def __call__(self, caller: Caller) -> list[Agent]:
        if caller.kind is CredentialKind.TOKEN:
            async with self._uow() as uow:
                access = await authorize(uow, caller, Action.READ_AGENTS)
        else:
            # Keys are authorized from the credential alone (`authorize` reads nothing for
            # them), so no session is opened: it was a tenth of this hot path's CPU.
            access = await authorize(self._uow(), caller, Action.READ_AGENTS)
        return await self._reader.list_agents(access.tenant_id)


class UpdateAgent:
    """UpdateAgent: replaces name and description (name 1-100, description ≤ 1000).

    - Needs WRITE_AGENTS; unknown agent or another tenant's → `NotFound`.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow_factory
        self._clock = clock

    async def __call__(self, command: UpdateAgentCommand) -> Agent:
        name = clean_agent_name(command.name)
        description = clean_agent_description(command.description)
        async with self._uow() as uow:
            agent = await agent_of(uow, command.caller, Action.WRITE_AGENTS, command.agent_id)
            agent.name = name
            agent.description = description
            agent.updated_at = self._clock.now()
            await uow.agents.update(agent)
            await uow.commit()
        return agent


class DeleteAgent:
    """DeleteAgent (ext): the agent with its config versions, intentions and leads.

    - Needs WRITE_AGENTS; unknown agent or another tenant's → `NotFound`.
    - Conversations and their messages stay: they carry the tenant's credit history.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    async def __call__(self, caller: Caller, agent_id: str) -> None:
        async with self._uow() as uow:
            agent = await agent_of(uow, caller, Action.WRITE_AGENTS, agent_id)
            if not await uow.agents.delete(agent.tenant_id, agent.id):
                raise NotFound(AGENT_NOT_FOUND)
            await uow.commit()
