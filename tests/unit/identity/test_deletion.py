"""DeleteUser: never leave a team with members but no owner."""

from __future__ import annotations

import pytest

from application.identity.commands import DeleteUserCommand, LoginCommand
from domain.errors import FailedPrecondition, Unauthenticated, Unavailable
from domain.identity.models import User
from domain.tenancy.models import Membership, Role
from tests.fakes.identity import IdentityKit, make_identity_kit

PASSWORD = "correct horse battery"


async def sign_up(kit: IdentityKit, email: str) -> tuple[User, str]:
    token = (await kit.sign_up(email, PASSWORD)).token
    return kit.user_by_email(email), token


async def join(kit: IdentityKit, tenant_id: str, user_id: str, role: Role) -> None:
    async with kit.uow_factory() as uow:
        await uow.memberships.add(Membership(tenant_id, user_id, role, kit.clock.now()))
        await uow.commit()


async def test_delete_removes_the_account_its_solo_tenant_and_sessions() -> None:
    kit = make_identity_kit()
    ann, token = await sign_up(kit, "ann@example.com")
    second = (await kit.login()(LoginCommand(ann.email, PASSWORD, "10.0.0.1"))).token
    session_ids = {kit.session_of(token).id, kit.session_of(second).id}

    await kit.delete_user()(DeleteUserCommand(ann.id))

    assert kit.store.users == {}
    assert kit.store.tenants == {}
    assert kit.store.memberships == {}
    assert kit.store.sessions == {}
    assert kit.revocations.revoked_ids == session_ids
    with pytest.raises(Unauthenticated):
        await kit.authenticate()(token)


async def test_delete_is_refused_for_the_only_owner_of_a_tenant_with_members() -> None:
    kit = make_identity_kit()
    ann, token = await sign_up(kit, "ann@example.com")
    bob, _ = await sign_up(kit, "bob@example.com")
    await join(kit, ann.current_tenant_id, bob.id, Role.ADMIN)

    with pytest.raises(FailedPrecondition, match="transfer ownership first"):
        await kit.delete_user()(DeleteUserCommand(ann.id))

    assert ann.id in kit.store.users
    assert kit.revocations.calls == []
    await kit.authenticate()(token)


async def test_delete_is_allowed_when_another_owner_remains() -> None:
    kit = make_identity_kit()
    ann, _ = await sign_up(kit, "ann@example.com")
    bob, _ = await sign_up(kit, "bob@example.com")
    await join(kit, ann.current_tenant_id, bob.id, Role.OWNER)

    await kit.delete_user()(DeleteUserCommand(ann.id))

    assert ann.current_tenant_id in kit.store.tenants
    members = [m for m in kit.store.memberships.values() if m.tenant_id == ann.current_tenant_id]
    assert [m.user_id for m in members] == [bob.id]


async def test_a_member_leaves_other_peoples_tenants_intact() -> None:
    kit = make_identity_kit()
    ann, _ = await sign_up(kit, "ann@example.com")
    bob, _ = await sign_up(kit, "bob@example.com")
    await join(kit, ann.current_tenant_id, bob.id, Role.NORMAL)

    await kit.delete_user()(DeleteUserCommand(bob.id))

    assert set(kit.store.tenants) == {ann.current_tenant_id}
    assert [m.user_id for m in kit.store.memberships.values()] == [ann.id]


async def test_deleting_a_missing_account_is_unauthenticated() -> None:
    kit = make_identity_kit()
    with pytest.raises(Unauthenticated):
        await kit.delete_user()(DeleteUserCommand("gone"))


async def test_delete_while_revocations_are_down_deletes_nothing() -> None:
    kit = make_identity_kit()
    ann, token = await sign_up(kit, "ann@example.com")
    kit.revocations.down = True

    with pytest.raises(Unavailable):
        await kit.delete_user()(DeleteUserCommand(ann.id))

    assert ann.id in kit.store.users
    assert kit.store.sessions[kit.session_of(token).id].revoked_at is None
    kit.revocations.down = False
    await kit.delete_user()(DeleteUserCommand(ann.id))
    assert kit.store.users == {}
