"""An agent's intentions: list, create, update (replace) and delete."""

from __future__ import annotations

from dataclasses import dataclass

from application.agents.agents import agent_of
from application.agents.commands import (
    CreateIntentionCommand,
    IntentionInput,
    UpdateIntentionCommand,
)
from application.common.caller import Caller
from application.common.ports import Clock, IdGenerator, UnitOfWorkFactory
from domain.agents.models import Intention
from domain.agents.rules import (
    COLLECT_FIELDS_MAX,
    INTENTION_DESCRIPTION_MAX,
    INTENTIONS_PER_AGENT_MAX,
    REPLY_MAX,
    bounded_text,
    check_priority,
    clean_examples,
    clean_field_names,
    clean_intention_name,
)
from domain.errors import AlreadyExists, FailedPrecondition, NotFound
from domain.tenancy.policy import Action

INTENTION_NOT_FOUND = "intention not found"


@dataclass(frozen=True, slots=True)
class _Fields:
    name: str
    description: str
    examples: list[str]
    reply: str
    collect_fields: list[str]
    enabled: bool
    priority: int


def _validated(raw: IntentionInput) -> _Fields:
    return _Fields(
        name=clean_intention_name(raw.name),
        description=bounded_text(
            raw.description, "intention.description", INTENTION_DESCRIPTION_MAX
        ),
        examples=clean_examples(raw.examples),
        reply=bounded_text(raw.reply, "intention.reply", REPLY_MAX),
        collect_fields=clean_field_names(
            raw.collect_fields, "intention.collect_fields", COLLECT_FIELDS_MAX
        ),
        enabled=raw.enabled,
        priority=check_priority(raw.priority),
    )


def _name_taken(name: str) -> AlreadyExists:
    return AlreadyExists(f"intention.name: the agent already has an intention named {name!r}")


class GetAgentIntentions:
    """GetAgentIntentions: all of the agent's intentions, highest priority first.

    - Needs READ_AGENTS; unknown agent or another tenant's → `NotFound`.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    async def __call__(self, caller: Caller, agent_id: str) -> list[Intention]:
        async with self._uow() as uow:
            agent = await agent_of(uow, caller, Action.READ_AGENTS, agent_id)
            return await uow.intentions.list(agent.tenant_id, agent.id)


class CreateAgentIntention:
    """CreateAgentIntention: a new intention (the id a client sends is ignored).

    - Needs WRITE_AGENTS; unknown agent or another tenant's → `NotFound`.
    - Bounds in `domain.agents.rules`; a missing `enabled` is false (contract §1.3).
    - Names are unique per agent, case-insensitively → `AlreadyExists`.
    - At most `INTENTIONS_PER_AGENT_MAX` per agent → `FailedPrecondition`.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, ids: IdGenerator, clock: Clock) -> None:
        self._uow = uow_factory
        self._ids = ids
        self._clock = clock

    async def __call__(self, command: CreateIntentionCommand) -> Intention:
        fields = _validated(command.intention)
        now = self._clock.now()
        async with self._uow() as uow:
            agent = await agent_of(uow, command.caller, Action.WRITE_AGENTS, command.agent_id)
            existing = await uow.intentions.list(agent.tenant_id, agent.id)
            if len(existing) >= INTENTIONS_PER_AGENT_MAX:
                raise FailedPrecondition(
                    f"an agent has at most {INTENTIONS_PER_AGENT_MAX} intentions"
                )
            intention = Intention(
                id=self._ids.new_id(),
                tenant_id=agent.tenant_id,
                agent_id=agent.id,
                name=fields.name,
                description=fields.description,
                examples=fields.examples,
                reply=fields.reply,
                collect_fields=fields.collect_fields,
                enabled=fields.enabled,
                priority=fields.priority,
                created_at=now,
                updated_at=now,
            )
            try:
                await uow.intentions.add(intention)
            except AlreadyExists:
                raise _name_taken(fields.name) from None
            await uow.commit()
        return intention


class UpdateAgentIntention:
    """UpdateAgentIntention: replaces every field of one intention.

    - Needs WRITE_AGENTS; unknown agent, intention, or another tenant's → `NotFound`.
    - Same bounds and name uniqueness as creation.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow_factory
        self._clock = clock

    async def __call__(self, command: UpdateIntentionCommand) -> Intention:
        fields = _validated(command.intention)
        async with self._uow() as uow:
            agent = await agent_of(uow, command.caller, Action.WRITE_AGENTS, command.agent_id)
            intention = await uow.intentions.get(agent.tenant_id, agent.id, command.intention_id)
            if intention is None:
                raise NotFound(INTENTION_NOT_FOUND)
            intention.name = fields.name
            intention.description = fields.description
            intention.examples = fields.examples
            intention.reply = fields.reply
            intention.collect_fields = fields.collect_fields
            intention.enabled = fields.enabled
            intention.priority = fields.priority
            intention.updated_at = self._clock.now()
            try:
                await uow.intentions.update(intention)
            except AlreadyExists:
                raise _name_taken(fields.name) from None
            await uow.commit()
        return intention


class DeleteAgentIntention:
    """DeleteAgentIntention (ext).

    - Needs WRITE_AGENTS; unknown agent, intention, or another tenant's → `NotFound`.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    async def __call__(self, caller: Caller, agent_id: str, intention_id: str) -> None:
        async with self._uow() as uow:
            agent = await agent_of(uow, caller, Action.WRITE_AGENTS, agent_id)
            if not await uow.intentions.delete(agent.tenant_id, agent.id, intention_id):
                raise NotFound(INTENTION_NOT_FOUND)
            await uow.commit()
