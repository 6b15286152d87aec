"""StopChat: stop a running turn by its task id, from any replica."""

from __future__ import annotations

from application.chat.commands import StopChatCommand
from application.chat.ports import TaskRegistry
from application.common.ports import UnitOfWorkFactory
from application.tenancy.access import authorize
from domain.errors import InvalidArgument, NotFound
from domain.tenancy.policy import Action


class StopChat:
    """Ask the replica running a turn to stop it; the reply is then stored as `aborted`.

    - Same credentials as Chat (`Action.CHAT`).
    - A task that is unknown, finished, of another tenant or of another end user → `NotFound`
      (nothing about other tenants' tasks leaks).
    """

    def __init__(self, uow: UnitOfWorkFactory, registry: TaskRegistry) -> None:
        self._uow = uow
        self._registry = registry

    async def __call__(self, command: StopChatCommand) -> None:
        if not command.external_user_id.strip():
            raise InvalidArgument("external_user_id", "must not be empty")
        async with self._uow() as uow:
            access = await authorize(uow, command.caller, Action.CHAT)
        task = await self._registry.get(command.task_id)
        if (
            task is None
            or task.tenant_id != access.tenant_id
            or task.external_user_id != command.external_user_id
        ):
            raise NotFound("task not found")
        await self._registry.request_stop(command.task_id)
