"""Tenancy use cases wired to the identity kit's in-memory store, clock and fakes."""

from __future__ import annotations

from dataclasses import dataclass, field

from application.common.caller import Caller
from application.tenancy.commands import (
    Invitee,
    InviteMembersCommand,
    InviteResult,
    TenancyPolicy,
)
from domain.identity.models import User
from domain.tenancy.models import Invitation, Membership, Role
from entrypoints.tenancy_wiring import wire_tenancy
from tests.fakes.identity import FRONTEND_URL, IdentityKit

PASSWORD = "correct horse battery"


@dataclass
class TenancyKit:
    identity: IdentityKit = field(default_factory=IdentityKit)
    policy: TenancyPolicy = field(default_factory=lambda: TenancyPolicy(FRONTEND_URL))

    def __post_init__(self) -> None:
        self.clock = self.identity.clock
        self.store = self.identity.store
        self.uow_factory = self.identity.uow_factory
        kit = self.identity
        self.use = wire_tenancy(
            uow=kit.uow_factory,
            clock=kit.clock,
            ids=kit.ids,
            secrets=kit.secrets,
            secret_hasher=kit.secret_hasher,
            passwords=kit.passwords,
            tokens=kit.tokens,
            limiter=kit.limiter,
            policy=self.policy,
        )

    async def sign_up(self, email: str, password: str = PASSWORD) -> tuple[User, Caller]:
        """A user with their own tenant (as owner), and their TOKEN caller."""
        token = (await self.identity.sign_up(email, password)).token
        claims = self.identity.tokens.read(token)
        return self.user(email), Caller.token(claims.user_id, claims.session_id)

    def user(self, email: str) -> User:
        return self.identity.user_by_email(email)

    async def join(self, tenant_id: str, user: User, role: Role) -> None:
        async with self.uow_factory() as uow:
            await uow.memberships.add(Membership(tenant_id, user.id, role, self.clock.now()))
            await uow.commit()

    def role_of(self, tenant_id: str, user: User) -> Role | None:
        membership = self.store.memberships.get((tenant_id, user.id))
        return membership.role if membership is not None else None

    async def invite(
        self, caller: Caller, email: str, role: str = "normal", tenant_id: str = ""
    ) -> InviteResult:
        results = await self.use.invite_members(
            InviteMembersCommand(caller, [Invitee(email, role)], tenant_id=tenant_id)
        )
        return results[0]

    def invitations_of(self, email: str) -> list[Invitation]:
        return [i for i in self.store.invitations.values() if i.email == email]


def token_of(result: InviteResult) -> str:
    assert result.invite_url.startswith(f"{FRONTEND_URL}/invite?invite_token="), result
    return result.invite_url.split("invite_token=", 1)[1]
