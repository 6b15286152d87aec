"""Deleting one's own account without orphaning a team that others still use."""

from __future__ import annotations

from application.common.ports import Clock, UnitOfWorkFactory
from application.identity._support import revoke_sessions_of
from application.identity.commands import DeleteUserCommand
from application.identity.ports import SessionRevocations
from domain.errors import FailedPrecondition, Unauthenticated
from domain.tenancy.models import Role

SOLE_OWNER = "you are the only owner of a tenant with other members; transfer ownership first"


class DeleteUser:
    """Delete the caller's account.

    - Refused (`FailedPrecondition`) while the user is the only owner of a tenant that has
      other members: the team would be left without anyone able to administer it.
    - Tenants where the user is the only member are deleted with the account.
    - Memberships and sessions go with the user; every session is revoked on all replicas.
    """

    def __init__(
        self, uow_factory: UnitOfWorkFactory, revocations: SessionRevocations, clock: Clock
    ) -> None:
        self._uow = uow_factory
        self._revocations = revocations
        self._clock = clock

    async def __call__(self, command: DeleteUserCommand) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            user = await uow.users.get(command.user_id)
            if user is None:
                raise Unauthenticated("the account no longer exists")
            solo_tenants: list[str] = []
            for membership in await uow.memberships.list_for_user(user.id):
                members = await uow.memberships.list_for_tenant(membership.tenant_id)
                others = [m for m in members if m.user_id != user.id]
                if not others:
                    solo_tenants.append(membership.tenant_id)
                elif membership.role == Role.OWNER and all(m.role != Role.OWNER for m in others):
                    raise FailedPrecondition(SOLE_OWNER)
            # Revoke before deleting: the rows (and so the ids to announce) go with the user.
            revoked = await revoke_sessions_of(uow, user.id, now)
            for tenant_id in solo_tenants:
                await uow.tenants.delete(tenant_id)
            await uow.users.delete(user.id)
            # Announced before the commit: a failed announcement deletes nothing (see Logout).
            await revoked.publish(self._revocations)
            await uow.commit()
