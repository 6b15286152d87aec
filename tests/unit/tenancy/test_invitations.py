"""Inviting: results per email, roles, and tokens (hashed, 7 days, superseded by a re-invite)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.common.caller import Caller
from application.tenancy.commands import (
    AcceptInvitationCommand,
    Invitee,
    InviteMembersCommand,
    InviteStatus,
    SwitchTenantCommand,
)
from domain.errors import (
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from domain.tenancy.models import INVITATION_LIFETIME, Role
from domain.tenancy.policy import Scope
from tests.fakes.identity import FRONTEND_URL
from tests.unit.tenancy.kit import TenancyKit, token_of

NEW_PASSWORD = "a brand new passphrase"


def accept(
    token: str, email: str, password: str = NEW_PASSWORD, tenant_id: str = ""
) -> AcceptInvitationCommand:
    return AcceptInvitationCommand(token, email, password, tenant_id)


async def test_invite_stores_only_a_hash_and_emails_the_link_it_returns() -> None:
    kit = TenancyKit()
    ann, caller = await kit.sign_up("ann@example.com")

    result = await kit.invite(caller, "Carol@Example.com", "admin")

    token = token_of(result)
    assert (result.email, result.status, result.message) == (
        "carol@example.com",
        InviteStatus.SUCCESS,
        "",
    )
    assert result.invite_url == f"{FRONTEND_URL}/invite?invite_token={token}"
    [invitation] = kit.invitations_of("carol@example.com")
    assert invitation.token_hash == kit.identity.secret_hasher.hash(token) != token
    assert (invitation.tenant_id, invitation.role, invitation.invited_by) == (
        ann.current_tenant_id,
        Role.ADMIN,
        ann.id,
    )
    assert invitation.expires_at == kit.clock.now() + timedelta(days=7)
    [email] = [e for e in kit.store.outbox if e.to == "carol@example.com"]
    assert result.invite_url in email.text


async def test_invite_reports_each_email_in_order() -> None:
    kit = TenancyKit()
    ann, caller = await kit.sign_up("ann@example.com")
    bob, _ = await kit.sign_up("bob@example.com")
    await kit.join(ann.current_tenant_id, bob, Role.NORMAL)

    results = await kit.use.invite_members(
        InviteMembersCommand(
            caller,
            [
                Invitee("new@example.com"),
                Invitee("not-an-email"),
                Invitee("bob@example.com", "admin"),
                Invitee("ann@example.com"),
                Invitee("NEW@example.com"),
                Invitee("other@example.com", "boss"),
            ],
        )
    )

    assert [(r.email, r.status) for r in results] == [
        ("new@example.com", InviteStatus.SUCCESS),
        ("not-an-email", InviteStatus.FAILED),
        ("bob@example.com", InviteStatus.DUPLICATE),
        ("ann@example.com", InviteStatus.DUPLICATE),
        ("new@example.com", InviteStatus.DUPLICATE),
        ("other@example.com", InviteStatus.FAILED),
    ]
    assert "valid email" in results[1].message
    assert "role" in results[5].message
    assert all(r.invite_url == "" for r in results[1:])
    assert len(kit.store.invitations) == 1
    assert [e.to for e in kit.store.outbox if "invite" in e.subject.lower()] == ["new@example.com"]


async def test_invite_takes_at_most_fifty_emails_per_call() -> None:
    kit = TenancyKit()
    _, caller = await kit.sign_up("ann@example.com")
    fifty = [Invitee(f"p{n}@example.com") for n in range(50)]

    results = await kit.use.invite_members(InviteMembersCommand(caller, fifty))
    assert {r.status for r in results} == {InviteStatus.SUCCESS}

    with pytest.raises(InvalidArgument) as raised:
        await kit.use.invite_members(
            InviteMembersCommand(caller, [*fifty, Invitee("p50@example.com")])
        )
    assert raised.value.field == "members"
    with pytest.raises(InvalidArgument):
        await kit.use.invite_members(InviteMembersCommand(caller, []))


async def test_admin_cannot_invite_an_owner_but_an_owner_can() -> None:
    kit = TenancyKit()
    ann, ann_caller = await kit.sign_up("ann@example.com")
    bob, bob_caller = await kit.sign_up("bob@example.com")
    await kit.join(ann.current_tenant_id, bob, Role.ADMIN)
    await kit.use.switch_tenant(SwitchTenantCommand(bob_caller, ann.current_tenant_id))

    by_admin = await kit.invite(bob_caller, "carol@example.com", "owner")
    by_owner = await kit.invite(ann_caller, "carol@example.com", "owner")

    assert (by_admin.status, by_admin.message) == (
        InviteStatus.FAILED,
        "only owners may invite owners",
    )
    assert by_owner.status is InviteStatus.SUCCESS


async def test_normal_members_and_api_keys_may_not_invite() -> None:
    kit = TenancyKit()
    ann, _ = await kit.sign_up("ann@example.com")
    bob, bob_caller = await kit.sign_up("bob@example.com")
    await kit.join(ann.current_tenant_id, bob, Role.NORMAL)
    await kit.use.switch_tenant(SwitchTenantCommand(bob_caller, ann.current_tenant_id))
    key = Caller.api_key(ann.current_tenant_id, "k-1", frozenset(Scope))

    with pytest.raises(PermissionDenied):
        await kit.invite(bob_caller, "carol@example.com")
    with pytest.raises(Unauthenticated):  # no key may invite: the wrong kind (§1.2)
        await kit.invite(key, "carol@example.com")
    assert kit.store.invitations == {}


async def test_internal_callers_invite_into_a_named_tenant_with_any_role() -> None:
    kit = TenancyKit()
    ann, _ = await kit.sign_up("ann@example.com")

    result = await kit.invite(
        Caller.internal(), "carol@example.com", "owner", ann.current_tenant_id
    )

    assert result.status is InviteStatus.SUCCESS
    [invitation] = kit.invitations_of("carol@example.com")
    assert (invitation.role, invitation.invited_by) == (Role.OWNER, "")
    with pytest.raises(NotFound):
        await kit.invite(Caller.internal(), "dan@example.com", "normal", "no-such-tenant")
    with pytest.raises(Unauthenticated):
        await kit.invite(Caller.internal(), "dan@example.com")


async def test_check_names_the_email_and_tenant() -> None:
    kit = TenancyKit()
    ann, caller = await kit.sign_up("ann@example.com")
    token = token_of(await kit.invite(caller, "carol@example.com"))

    info = await kit.use.check_invitation(token)

    assert (info.email, info.tenant_id) == ("carol@example.com", ann.current_tenant_id)


async def test_a_token_lives_seven_days() -> None:
    kit = TenancyKit()
    _, caller = await kit.sign_up("ann@example.com")
    token = token_of(await kit.invite(caller, "carol@example.com"))

    kit.clock.advance(INVITATION_LIFETIME - timedelta(seconds=1))
    await kit.use.check_invitation(token)
    kit.clock.advance(seconds=1)

    with pytest.raises(InvalidArgument, match="invite_token: is invalid or expired"):
        await kit.use.check_invitation(token)
    with pytest.raises(InvalidArgument, match="invite_token"):
        await kit.use.accept_invitation(accept(token, "carol@example.com"))
    assert kit.identity.store.users.keys() == {kit.user("ann@example.com").id}


@pytest.mark.parametrize("token", ["", "token-999", "garbage"])
async def test_unknown_tokens_are_invalid(token: str) -> None:
    kit = TenancyKit()

    with pytest.raises(InvalidArgument, match="invite_token"):
        await kit.use.check_invitation(token)


async def test_reinviting_revokes_the_previous_token() -> None:
    kit = TenancyKit()
    _, caller = await kit.sign_up("ann@example.com")
    first = token_of(await kit.invite(caller, "carol@example.com"))
    too_soon = await kit.invite(caller, "carol@example.com", "admin")
    assert (too_soon.status, too_soon.message) == (
        InviteStatus.FAILED,
        "invited moments ago; try again later",
    )
    kit.clock.advance(minutes=10)
    second = token_of(await kit.invite(caller, "carol@example.com", "admin"))

    with pytest.raises(InvalidArgument, match="invite_token"):
        await kit.use.check_invitation(first)
    await kit.use.check_invitation(second)
    assert len([e for e in kit.store.outbox if e.to == "carol@example.com"]) == 2
    assert [i.revoked_at is None for i in kit.invitations_of("carol@example.com")] == [False, True]


async def test_a_tenant_sends_at_most_its_hourly_invitations() -> None:
    kit = TenancyKit()
    _, caller = await kit.sign_up("ann@example.com")
    hourly = kit.policy.invitations_per_tenant_per_hour
    sent = 0
    while sent < hourly:
        batch = [f"p{sent + n}@example.com" for n in range(min(50, hourly - sent))]
        results = await kit.use.invite_members(
            InviteMembersCommand(caller, [Invitee(email) for email in batch])
        )
        assert {r.status for r in results} == {InviteStatus.SUCCESS}
        sent += len(batch)
    refused = await kit.invite(caller, "one-too-many@example.com")
    assert refused.status is InviteStatus.FAILED
    assert not [e for e in kit.store.outbox if e.to == "one-too-many@example.com"]
    kit.clock.advance(hours=1)
    again = await kit.invite(caller, "one-too-many@example.com")
    assert again.status is InviteStatus.SUCCESS
