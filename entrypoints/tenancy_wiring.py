"""Wires the tenant, member and invitation use cases to the adapters the root picked."""

from __future__ import annotations

from dataclasses import dataclass

from application.common.ports import (
    Clock,
    IdGenerator,
    RateLimiter,
    SecretGenerator,
    SecretHasher,
    UnitOfWorkFactory,
)
from application.identity.ports import PasswordHasher, TokenIssuer
from application.tenancy.commands import TenancyPolicy
from application.tenancy.invitations import AcceptInvitation, CheckInvitation, InviteMembers
from application.tenancy.members import ChangeMemberRole, ListMembers, RemoveMember
from application.tenancy.tenants import (
    CreateTenant,
    GetCurrentTenant,
    ListUserTenants,
    RenameTenant,
    SwitchTenant,
)


@dataclass(frozen=True, slots=True)
class TenancyUseCases:
    list_tenants: ListUserTenants
    current_tenant: GetCurrentTenant
    switch_tenant: SwitchTenant
    create_tenant: CreateTenant
    rename_tenant: RenameTenant
    list_members: ListMembers
    remove_member: RemoveMember
    change_member_role: ChangeMemberRole
    invite_members: InviteMembers
    check_invitation: CheckInvitation
    accept_invitation: AcceptInvitation


def wire_tenancy(
    *,
    uow: UnitOfWorkFactory,
    clock: Clock,
    ids: IdGenerator,
    secrets: SecretGenerator,
    secret_hasher: SecretHasher,
    passwords: PasswordHasher,
    tokens: TokenIssuer,
    limiter: RateLimiter,
    policy: TenancyPolicy,
) -> TenancyUseCases:
    return TenancyUseCases(
        list_tenants=ListUserTenants(uow_factory=uow, clock=clock, policy=policy),
        current_tenant=GetCurrentTenant(uow_factory=uow, clock=clock, policy=policy),
        switch_tenant=SwitchTenant(uow_factory=uow, clock=clock, policy=policy),
        create_tenant=CreateTenant(uow_factory=uow, ids=ids, clock=clock, policy=policy),
        rename_tenant=RenameTenant(uow_factory=uow, clock=clock),
        list_members=ListMembers(uow_factory=uow, clock=clock),
        remove_member=RemoveMember(uow_factory=uow, clock=clock),
        change_member_role=ChangeMemberRole(uow_factory=uow),
        invite_members=InviteMembers(
            uow_factory=uow,
            secrets=secrets,
            secret_hasher=secret_hasher,
            ids=ids,
            clock=clock,
            policy=policy,
            limiter=limiter,
        ),
        check_invitation=CheckInvitation(uow_factory=uow, secret_hasher=secret_hasher, clock=clock),
        accept_invitation=AcceptInvitation(
            uow_factory=uow,
            secret_hasher=secret_hasher,
            passwords=passwords,
            tokens=tokens,
            limiter=limiter,
            ids=ids,
            clock=clock,
            policy=policy,
        ),
    )
