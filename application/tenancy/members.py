"""A tenant's members: list them, remove one, change one's role (contract §7)."""

from __future__ import annotations

from application.common.caller import Caller
from application.common.ports import Clock, UnitOfWork, UnitOfWorkFactory
from application.tenancy.access import authorize
from application.tenancy.commands import (
    ChangeMemberRoleCommand,
    MemberStatus,
    MemberView,
    RemoveMemberCommand,
)
from domain.errors import FailedPrecondition, NotFound
from domain.identity.rules import normalize_email
from domain.tenancy.models import Membership, Role
from domain.tenancy.policy import Action, check_member_change, parse_role

NOT_A_MEMBER = "no member of this tenant has this email"
LAST_OWNER = "a tenant must keep at least one owner; make someone else owner first"


async def _target(uow: UnitOfWork, tenant_id: str, email: str) -> Membership | None:
    user = await uow.users.get_by_email(email)
    return await uow.memberships.get(tenant_id, user.id) if user is not None else None


async def _is_last_owner(uow: UnitOfWork, membership: Membership) -> bool:
    if membership.role != Role.OWNER:
        return False
    await uow.tenants.lock(membership.tenant_id)
    members = await uow.memberships.list_for_tenant(membership.tenant_id)
    return not any(m.role == Role.OWNER and m.user_id != membership.user_id for m in members)


def _acting_role(role: Role | None) -> Role:
    # Internal callers act as the platform operator: everything an owner may do.
    return role if role is not None else Role.OWNER


class ListMembers:
    """Active members of the caller's current tenant, then its pending invitations.

    - Any member may read the list; invitations that expired are left out.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow_factory
        self._clock = clock

    async def __call__(self, caller: Caller) -> list[MemberView]:
        now = self._clock.now()
        async with self._uow() as uow:
            access = await authorize(uow, caller, Action.READ_TENANT)
            views: list[MemberView] = []
            for membership in await uow.memberships.list_for_tenant(access.tenant_id):
                user = await uow.users.get(membership.user_id)
                if user is None:
                    continue
                views.append(
                    MemberView(
                        user_id=user.id,
                        email=user.email,
                        name=user.name,
                        avatar_url=user.avatar_url,
                        role=membership.role,
                        status=MemberStatus.ACTIVE,
                        created_at=membership.created_at,
                    )
                )
            for invitation in await uow.invitations.list_for_tenant(access.tenant_id):
                if invitation.is_pending(now):
                    views.append(
                        MemberView(
                            user_id="",
                            email=invitation.email,
                            name="",
                            avatar_url="",
                            role=invitation.role,
                            status=MemberStatus.PENDING,
                            created_at=invitation.created_at,
                        )
                    )
        return views


class RemoveMember:
    """Remove a member (or withdraw a pending invitation) of the current tenant, by email.

    - Admins remove `normal` and `admin` members; only owners remove owners.
    - The last owner cannot be removed (`FailedPrecondition`).
    - Access ends at once: every request re-reads membership. If it was the removed person's
      current tenant, theirs falls back to their oldest other membership, or to none.
    - An email that is neither a member nor pending → `NotFound`.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow_factory
        self._clock = clock

    async def __call__(self, command: RemoveMemberCommand) -> None:
        email = normalize_email(command.email)
        now = self._clock.now()
        async with self._uow() as uow:
            access = await authorize(uow, command.caller, Action.MANAGE_MEMBERS)
            actor = _acting_role(access.role)
            target = await _target(uow, access.tenant_id, email)
            if target is None:
                await self._withdraw_invitations(uow, actor, access.tenant_id, email)
                await uow.commit()
                return
            check_member_change(actor, target.role, None)
            if await _is_last_owner(uow, target):
                raise FailedPrecondition(LAST_OWNER)
            await uow.memberships.delete(target.tenant_id, target.user_id)
            user = await uow.users.get(target.user_id)
            if user is not None and user.current_tenant_id == target.tenant_id:
                others = await uow.memberships.list_for_user(user.id)
                remaining = [m for m in others if m.tenant_id != target.tenant_id]
                user.current_tenant_id = remaining[0].tenant_id if remaining else ""
                user.updated_at = now
                await uow.users.update(user)
            await uow.commit()

    async def _withdraw_invitations(
        self, uow: UnitOfWork, actor: Role, tenant_id: str, email: str
    ) -> None:
        pending = await uow.invitations.list_pending_for_email(tenant_id, email)
        if not pending:
            raise NotFound(NOT_A_MEMBER)
        now = self._clock.now()
        for invitation in pending:
            check_member_change(actor, invitation.role, None)
            invitation.revoke(now)
            await uow.invitations.update(invitation)


class ChangeMemberRole:
    """Give a member of the current tenant another role.

    - Admins move members between `normal` and `admin`; only owners make or demote owners.
    - The last owner cannot be demoted (`FailedPrecondition`).
    - An email that is not a member → `NotFound`; the same role again changes nothing.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    async def __call__(self, command: ChangeMemberRoleCommand) -> None:
        email = normalize_email(command.email)
        new_role = parse_role(command.role)
        async with self._uow() as uow:
            access = await authorize(uow, command.caller, Action.MANAGE_MEMBERS)
            target = await _target(uow, access.tenant_id, email)
            if target is None:
                raise NotFound(NOT_A_MEMBER)
            check_member_change(_acting_role(access.role), target.role, new_role)
            if target.role == new_role:
                return
            if new_role != Role.OWNER and await _is_last_owner(uow, target):
                raise FailedPrecondition(LAST_OWNER)
            target.role = new_role
            await uow.memberships.update(target)
            await uow.commit()
