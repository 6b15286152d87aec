"""Members of a tenant: list, remove and re-role under the §7 rules; one owner always stays."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.common.caller import Caller
from application.tenancy.access import authorize
from application.tenancy.commands import (
    ChangeMemberRoleCommand,
    MemberStatus,
    RemoveMemberCommand,
    SwitchTenantCommand,
)
from domain.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from domain.identity.models import User
from domain.tenancy.models import INVITATION_LIFETIME, Role
from domain.tenancy.policy import Action
from tests.unit.tenancy.kit import TenancyKit


async def team(kit: TenancyKit, *roles: Role) -> tuple[User, Caller, list[tuple[User, Caller]]]:
    """Ann owns a tenant; one extra member per role, each switched into Ann's tenant."""
    ann, ann_caller = await kit.sign_up("ann@example.com")
    members: list[tuple[User, Caller]] = []
    for n, role in enumerate(roles):
        user, caller = await kit.sign_up(f"member{n}@example.com")
        await kit.join(ann.current_tenant_id, user, role)
        await kit.use.switch_tenant(SwitchTenantCommand(caller, ann.current_tenant_id))
        members.append((kit.user(user.email), caller))
    return ann, ann_caller, members


async def test_list_shows_active_members_then_pending_invitations() -> None:
    kit = TenancyKit()
    ann, ann_caller, [(bob, bob_caller)] = await team(kit, Role.NORMAL)
    await kit.invite(ann_caller, "carol@example.com", "admin")
    await kit.invite(ann_caller, "stale@example.com")
    kit.store.invitations[
        kit.invitations_of("stale@example.com")[0].id
    ].expires_at = kit.clock.now()

    members = await kit.use.list_members(bob_caller)

    assert [(m.email, m.role, m.status, m.user_id) for m in members] == [
        ("ann@example.com", Role.OWNER, MemberStatus.ACTIVE, ann.id),
        ("member0@example.com", Role.NORMAL, MemberStatus.ACTIVE, bob.id),
        ("carol@example.com", Role.ADMIN, MemberStatus.PENDING, ""),
    ]


@pytest.mark.parametrize("target_role", [Role.NORMAL, Role.ADMIN])
async def test_admin_removes_normal_and_admin_members(target_role: Role) -> None:
    kit = TenancyKit()
    ann, _, [(_, admin_caller), (target, _)] = await team(kit, Role.ADMIN, target_role)

    await kit.use.remove_member(RemoveMemberCommand(admin_caller, target.email))

    assert kit.role_of(ann.current_tenant_id, target) is None


async def test_admin_may_not_remove_an_owner() -> None:
    kit = TenancyKit()
    ann, _, [(_, admin_caller), (owner2, _)] = await team(kit, Role.ADMIN, Role.OWNER)

    with pytest.raises(PermissionDenied):
        await kit.use.remove_member(RemoveMemberCommand(admin_caller, owner2.email))
    with pytest.raises(PermissionDenied):
        await kit.use.remove_member(RemoveMemberCommand(admin_caller, ann.email))

    assert kit.role_of(ann.current_tenant_id, owner2) is Role.OWNER


async def test_normal_member_may_not_remove_anyone() -> None:
    kit = TenancyKit()
    ann, _, [(_, normal_caller), (other, _)] = await team(kit, Role.NORMAL, Role.NORMAL)

    with pytest.raises(PermissionDenied):
        await kit.use.remove_member(RemoveMemberCommand(normal_caller, other.email))

    assert kit.role_of(ann.current_tenant_id, other) is Role.NORMAL


async def test_the_last_owner_cannot_be_removed() -> None:
    kit = TenancyKit()
    ann, ann_caller, _ = await team(kit, Role.ADMIN)

    with pytest.raises(FailedPrecondition):
        await kit.use.remove_member(RemoveMemberCommand(ann_caller, ann.email))

    assert kit.role_of(ann.current_tenant_id, ann) is Role.OWNER


async def test_an_owner_is_removable_while_another_owner_stays() -> None:
    kit = TenancyKit()
    ann, ann_caller, [(owner2, _)] = await team(kit, Role.OWNER)

    await kit.use.remove_member(RemoveMemberCommand(ann_caller, owner2.email))

    assert kit.role_of(ann.current_tenant_id, owner2) is None


async def test_removal_ends_access_at_once_and_falls_back_to_another_tenant() -> None:
    kit = TenancyKit()
    ann, ann_caller, [(bob, bob_caller)] = await team(kit, Role.ADMIN)
    bob_own_tenant = next(
        m.tenant_id
        for m in kit.store.memberships.values()
        if m.user_id == bob.id and m.role is Role.OWNER
    )

    await kit.use.remove_member(RemoveMemberCommand(ann_caller, bob.email))

    assert kit.user(bob.email).current_tenant_id == bob_own_tenant
    async with kit.uow_factory() as uow:
        with pytest.raises(PermissionDenied):
            await authorize(uow, bob_caller, Action.READ_TENANT, ann.current_tenant_id)
    assert (await kit.use.current_tenant(bob_caller)).id == bob_own_tenant


async def test_removal_leaves_no_current_tenant_when_none_remains() -> None:
    kit = TenancyKit()
    ann, ann_caller, [(bob, bob_caller)] = await team(kit, Role.NORMAL)
    async with kit.uow_factory() as uow:
        for membership in await uow.memberships.list_for_user(bob.id):
            if membership.tenant_id != ann.current_tenant_id:
                await uow.tenants.delete(membership.tenant_id)
        await uow.commit()

    await kit.use.remove_member(RemoveMemberCommand(ann_caller, bob.email))

    assert kit.user(bob.email).current_tenant_id == ""
    with pytest.raises(PermissionDenied):
        await kit.use.current_tenant(bob_caller)


async def test_removing_a_pending_email_withdraws_its_invitation() -> None:
    kit = TenancyKit()
    _, ann_caller, _ = await team(kit)
    await kit.invite(ann_caller, "carol@example.com")

    await kit.use.remove_member(RemoveMemberCommand(ann_caller, "Carol@Example.com"))

    [invitation] = kit.invitations_of("carol@example.com")
    assert invitation.revoked_at == kit.clock.now()
    statuses = [m.status for m in await kit.use.list_members(ann_caller)]
    assert statuses == [MemberStatus.ACTIVE]


async def test_removing_an_unknown_email_is_not_found() -> None:
    kit = TenancyKit()
    _, ann_caller, _ = await team(kit)
    stranger, _ = await kit.sign_up("stranger@example.com")

    with pytest.raises(NotFound):
        await kit.use.remove_member(RemoveMemberCommand(ann_caller, "nobody@example.com"))
    with pytest.raises(NotFound):
        await kit.use.remove_member(RemoveMemberCommand(ann_caller, stranger.email))


async def test_admin_moves_members_between_normal_and_admin() -> None:
    kit = TenancyKit()
    ann, _, [(_, admin_caller), (bob, _)] = await team(kit, Role.ADMIN, Role.NORMAL)

    await kit.use.change_member_role(ChangeMemberRoleCommand(admin_caller, bob.email, "admin"))
    assert kit.role_of(ann.current_tenant_id, bob) is Role.ADMIN
    await kit.use.change_member_role(ChangeMemberRoleCommand(admin_caller, bob.email, "normal"))
    assert kit.role_of(ann.current_tenant_id, bob) is Role.NORMAL


async def test_admin_may_neither_make_nor_demote_owners() -> None:
    kit = TenancyKit()
    ann, _, [(_, admin_caller), (bob, _), (owner2, _)] = await team(
        kit, Role.ADMIN, Role.NORMAL, Role.OWNER
    )

    with pytest.raises(PermissionDenied):
        await kit.use.change_member_role(ChangeMemberRoleCommand(admin_caller, bob.email, "owner"))
    with pytest.raises(PermissionDenied):
        await kit.use.change_member_role(
            ChangeMemberRoleCommand(admin_caller, owner2.email, "admin")
        )

    assert kit.role_of(ann.current_tenant_id, bob) is Role.NORMAL
    assert kit.role_of(ann.current_tenant_id, owner2) is Role.OWNER


async def test_owner_promotes_to_owner_and_then_may_step_down() -> None:
    kit = TenancyKit()
    ann, ann_caller, [(bob, _)] = await team(kit, Role.NORMAL)

    await kit.use.change_member_role(ChangeMemberRoleCommand(ann_caller, bob.email, "owner"))
    await kit.use.change_member_role(ChangeMemberRoleCommand(ann_caller, ann.email, "admin"))

    assert kit.role_of(ann.current_tenant_id, bob) is Role.OWNER
    assert kit.role_of(ann.current_tenant_id, ann) is Role.ADMIN


async def test_the_last_owner_cannot_be_demoted() -> None:
    kit = TenancyKit()
    ann, ann_caller, _ = await team(kit, Role.ADMIN)

    with pytest.raises(FailedPrecondition):
        await kit.use.change_member_role(ChangeMemberRoleCommand(ann_caller, ann.email, "normal"))

    assert kit.role_of(ann.current_tenant_id, ann) is Role.OWNER


async def test_role_change_refuses_unknown_roles_and_non_members() -> None:
    kit = TenancyKit()
    _, ann_caller, [(bob, _)] = await team(kit, Role.NORMAL)

    with pytest.raises(InvalidArgument):
        await kit.use.change_member_role(ChangeMemberRoleCommand(ann_caller, bob.email, "boss"))
    with pytest.raises(NotFound):
        await kit.use.change_member_role(
            ChangeMemberRoleCommand(ann_caller, "nobody@example.com", "admin")
        )


async def test_members_of_another_tenant_are_out_of_reach() -> None:
    kit = TenancyKit()
    ann, _, [(bob, _)] = await team(kit, Role.NORMAL)
    _, eve_caller = await kit.sign_up("eve@example.com")

    with pytest.raises(NotFound):
        await kit.use.remove_member(RemoveMemberCommand(eve_caller, bob.email))
    with pytest.raises(NotFound):
        await kit.use.change_member_role(ChangeMemberRoleCommand(eve_caller, bob.email, "admin"))

    assert kit.role_of(ann.current_tenant_id, bob) is Role.NORMAL
    assert [m.email for m in await kit.use.list_members(eve_caller)] == ["eve@example.com"]


async def test_expired_invitations_drop_out_of_the_member_list() -> None:
    kit = TenancyKit()
    _, ann_caller, _ = await team(kit)
    await kit.invite(ann_caller, "carol@example.com")

    kit.clock.advance(INVITATION_LIFETIME - timedelta(seconds=1))
    assert "carol@example.com" in [m.email for m in await kit.use.list_members(ann_caller)]
    kit.clock.advance(seconds=1)
    assert "carol@example.com" not in [m.email for m in await kit.use.list_members(ann_caller)]
