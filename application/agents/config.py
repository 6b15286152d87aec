"""An agent's configuration: read the current one, save a new version, list the versions."""

from __future__ import annotations

from application.agents.agents import agent_of, check_own_user_id
from application.agents.commands import (
    ConfigVersionPage,
    ConfigView,
    PageQuery,
    UpdateConfigCommand,
)
from application.common.caller import Caller
from application.common.paging import page_offset
from application.common.ports import Clock, IdGenerator, UnitOfWork, UnitOfWorkFactory
from domain.agents.models import Agent, AgentConfigVersion
from domain.agents.rules import is_known_model, validate_config
from domain.errors import AlreadyExists, FailedPrecondition
from domain.tenancy.policy import Action

# Every agent gets version 1 when it is created; none means the data was damaged.
NO_CONFIG = "the agent has no configuration"


async def current_config(uow: UnitOfWork, agent: Agent) -> AgentConfigVersion:
    version = await uow.agent_configs.current(agent.tenant_id, agent.id)
    if version is None:
        raise FailedPrecondition(NO_CONFIG)
    return version


class GetAgentConfig:
    """GetAgentConfig: the current (highest) version of the agent's configuration.

    - Needs READ_AGENTS; unknown agent or another tenant's → `NotFound`.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    async def __call__(self, caller: Caller, agent_id: str) -> ConfigView:
        async with self._uow() as uow:
            agent = await agent_of(uow, caller, Action.READ_AGENTS, agent_id)
            version = await current_config(uow, agent)
        return ConfigView(
            id=version.id,
            agent_id=agent.id,
            config=version.config,
            created_at=agent.created_at,
            updated_at=version.created_at,
        )


class UpdateAgentConfig:
    """UpdateAgentConfig: saves the full config as a new version, authored by the caller.

    - Needs WRITE_AGENTS; unknown agent or another tenant's → `NotFound`; body `user_id`,
      when given, must be the caller's → `PermissionDenied`.
    - Validated by `domain.agents.rules.validate_config` (field named on failure). Unknown
      model names are allowed and recorded as `model_known=False`.
    - The new version is the current one + 1. When a concurrent update took that number the
      save is retried once on top of it; a second clash → `AlreadyExists`.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, ids: IdGenerator, clock: Clock) -> None:
        self._uow = uow_factory
        self._ids = ids
        self._clock = clock

    async def __call__(self, command: UpdateConfigCommand) -> AgentConfigVersion:
        check_own_user_id(command.caller, command.user_id)
        config = validate_config(command.config)
        for attempt in range(2):
            async with self._uow() as uow:
                agent = await agent_of(uow, command.caller, Action.WRITE_AGENTS, command.agent_id)
                current = await current_config(uow, agent)
                version = AgentConfigVersion(
                    id=self._ids.new_id(),
                    tenant_id=agent.tenant_id,
                    agent_id=agent.id,
                    version=current.version + 1,
                    config=config,
                    user_id=command.caller.user_id,
                    model_known=is_known_model(config.model),
                    created_at=self._clock.now(),
                )
                try:
                    await uow.agent_configs.add(version)
                except AlreadyExists:
                    if attempt == 0:
                        continue
                    raise AlreadyExists(
                        "the configuration was changed at the same time; try again"
                    ) from None
                await uow.commit()
                return version
        raise AssertionError("unreachable")  # pragma: no cover


class ListAgentConfigVersions:
    """ListAgentConfigVersions (ext): saved versions, newest first, paged (§1.5).

    - Needs READ_AGENTS; unknown agent or another tenant's → `NotFound`.
    - `page` ≥ 1 and 1 ≤ `limit` ≤ 100, else `InvalidArgument`.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    async def __call__(self, query: PageQuery) -> ConfigVersionPage:
        offset = page_offset(query.page, query.limit)
        async with self._uow() as uow:
            agent = await agent_of(uow, query.caller, Action.READ_AGENTS, query.agent_id)
            versions, total = await uow.agent_configs.list_versions(
                agent.tenant_id, agent.id, offset, query.limit
            )
        return ConfigVersionPage(versions, query.page, query.limit, total)
