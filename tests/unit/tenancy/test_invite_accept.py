"""Accepting an invitation: new and existing accounts, single use, email and tenant binding."""

from __future__ import annotations

import pytest

from application.tenancy.commands import (
    AcceptInvitationCommand,
)
from domain.errors import (
    AlreadyExists,
    InvalidArgument,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from domain.tenancy.models import Role
from tests.unit.tenancy.kit import PASSWORD, TenancyKit, token_of

NEW_PASSWORD = "a brand new passphrase"


def accept(
    token: str, email: str, password: str = NEW_PASSWORD, tenant_id: str = ""
) -> AcceptInvitationCommand:
    return AcceptInvitationCommand(token, email, password, tenant_id)


async def test_accepting_as_a_new_user_creates_a_ready_account_in_the_tenant() -> None:
    kit = TenancyKit()
    ann, caller = await kit.sign_up("ann@example.com")
    token = token_of(await kit.invite(caller, "carol@example.com", "admin"))

    access = await kit.use.accept_invitation(
        accept(token, " Carol@example.com ", tenant_id=ann.current_tenant_id)
    )

    carol = kit.user("carol@example.com")
    assert (carol.email_verified, carol.is_initialized, carol.current_tenant_id) == (
        True,
        True,
        ann.current_tenant_id,
    )
    assert await kit.identity.passwords.verify(carol.password_hash or "", NEW_PASSWORD)
    assert kit.role_of(ann.current_tenant_id, carol) is Role.ADMIN
    claims = kit.identity.tokens.read(access)
    assert claims.user_id == carol.id
    assert kit.store.sessions[claims.session_id].user_id == carol.id
    [invitation] = kit.invitations_of("carol@example.com")
    assert invitation.accepted_at == kit.clock.now()


async def test_a_token_works_once() -> None:
    kit = TenancyKit()
    _, caller = await kit.sign_up("ann@example.com")
    token = token_of(await kit.invite(caller, "carol@example.com"))
    await kit.use.accept_invitation(accept(token, "carol@example.com"))

    with pytest.raises(InvalidArgument, match="invite_token"):
        await kit.use.accept_invitation(accept(token, "carol@example.com"))
    with pytest.raises(InvalidArgument, match="invite_token"):
        await kit.use.check_invitation(token)


async def test_a_new_users_password_must_follow_the_policy() -> None:
    kit = TenancyKit()
    _, caller = await kit.sign_up("ann@example.com")
    token = token_of(await kit.invite(caller, "carol@example.com"))

    with pytest.raises(InvalidArgument, match="password"):
        await kit.use.accept_invitation(accept(token, "carol@example.com", "short"))

    await kit.use.check_invitation(token)  # still usable
    assert kit.invitations_of("carol@example.com")[0].accepted_at is None


async def test_the_email_and_tenant_must_be_the_invitations() -> None:
    kit = TenancyKit()
    ann, caller = await kit.sign_up("ann@example.com")
    bob, _ = await kit.sign_up("bob@example.com")
    token = token_of(await kit.invite(caller, "carol@example.com"))

    with pytest.raises(PermissionDenied):
        await kit.use.accept_invitation(accept(token, "mallory@example.com"))
    with pytest.raises(PermissionDenied):
        await kit.use.accept_invitation(
            accept(token, "carol@example.com", tenant_id=bob.current_tenant_id)
        )

    await kit.use.check_invitation(token)
    assert kit.role_of(ann.current_tenant_id, bob) is None


async def test_an_existing_user_joins_with_their_password() -> None:
    kit = TenancyKit()
    ann, caller = await kit.sign_up("ann@example.com")
    bob, _ = await kit.sign_up("bob@example.com")
    token = token_of(await kit.invite(caller, "bob@example.com"))

    with pytest.raises(Unauthenticated):
        await kit.use.accept_invitation(accept(token, "bob@example.com", "wrong password!"))
    assert kit.role_of(ann.current_tenant_id, bob) is None

    access = await kit.use.accept_invitation(accept(token, "bob@example.com", PASSWORD))

    assert kit.identity.tokens.read(access).user_id == bob.id
    assert kit.role_of(ann.current_tenant_id, bob) is Role.NORMAL
    assert kit.user("bob@example.com").current_tenant_id == ann.current_tenant_id
    assert await kit.identity.passwords.verify(kit.user(bob.email).password_hash or "", PASSWORD)


async def test_wrong_passwords_lock_the_invitation_for_a_while() -> None:
    kit = TenancyKit()
    _, caller = await kit.sign_up("ann@example.com")
    await kit.sign_up("bob@example.com")
    token = token_of(await kit.invite(caller, "bob@example.com"))
    for _ in range(kit.policy.accept_failures_per_window):
        with pytest.raises(Unauthenticated):
            await kit.use.accept_invitation(accept(token, "bob@example.com", "wrong password!"))

    with pytest.raises(ResourceExhausted):
        await kit.use.accept_invitation(accept(token, "bob@example.com", PASSWORD))
    kit.clock.advance(seconds=kit.policy.accept_failure_window_seconds)
    await kit.use.accept_invitation(accept(token, "bob@example.com", PASSWORD))


async def test_accepting_when_already_a_member_is_refused() -> None:
    kit = TenancyKit()
    ann, caller = await kit.sign_up("ann@example.com")
    bob, _ = await kit.sign_up("bob@example.com")
    token = token_of(await kit.invite(caller, "bob@example.com"))
    await kit.join(ann.current_tenant_id, bob, Role.ADMIN)

    with pytest.raises(AlreadyExists):
        await kit.use.accept_invitation(accept(token, "bob@example.com", PASSWORD))
    assert kit.role_of(ann.current_tenant_id, bob) is Role.ADMIN
