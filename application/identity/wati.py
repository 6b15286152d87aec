"""The WATI account behind a tenant: remembered when the tenant's owner signs in with WATI,
shown to the tenant's owners and admins (GetTenantWatiUserInfo).

The long-lived token is sealed before it is stored and opened only to answer that call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from application.common.caller import Caller
from application.common.ports import SecretBox, UnitOfWork, UnitOfWorkFactory
from application.identity.ports import ProviderGrant
from application.tenancy.access import authorize, require_user
from domain.errors import NotFound
from domain.identity.models import User
from domain.identity.oauth import WatiLink
from domain.tenancy.models import Role
from domain.tenancy.policy import Action

# Where WATI names its own tenant in the id_token or userinfo (the broker passes `extra`).
WATI_TENANT_CLAIMS = ("wati_tenant", "tenant_id")


@dataclass(frozen=True, slots=True)
class WatiUserInfo:
    wati_email: str
    wati_tenant: str
    wati_long_life_token: str = field(repr=False)


class WatiLinks:
    def __init__(self, uow_factory: UnitOfWorkFactory, box: SecretBox) -> None:
        self._uow = uow_factory
        self._box = box

    async def remember(
        self, uow: UnitOfWork, user: User, grant: ProviderGrant, now: datetime
    ) -> None:
        """Inside the sign-in's transaction: link the user's current tenant, if they own it,
        to the WATI account (the refresh token is the long-lived one; without it, the
        access token)."""
        tenant_id = user.current_tenant_id
        membership = await uow.memberships.get(tenant_id, user.id) if tenant_id else None
        long_lived = grant.refresh_token or grant.access_token
        if membership is None or membership.role is not Role.OWNER or not long_lived:
            return
        claims = grant.claims
        wati_tenant = next((str(claims[c]) for c in WATI_TENANT_CLAIMS if claims.get(c)), "")
        await uow.oauth.save_wati_link(
            WatiLink(
                tenant_id=membership.tenant_id,
                user_id=user.id,
                wati_email=grant.identity.email,
                wati_tenant=wati_tenant,
                sealed_token=self._box.seal(long_lived),
                updated_at=now,
            )
        )

    async def info(self, caller: Caller, tenant_id: str) -> WatiUserInfo:
        """GetTenantWatiUserInfo: owners and admins of that tenant only (a person, not a
        key); `NotFound` when no owner has signed in with WATI."""
        require_user(caller)
        async with self._uow() as uow:
            await authorize(uow, caller, Action.READ_WATI_LINK, tenant_id)
            link = await uow.oauth.get_wati_link(tenant_id)
        if link is None:
            raise NotFound("this tenant has no WATI account linked")
        return WatiUserInfo(link.wati_email, link.wati_tenant, self._box.open(link.sealed_token))
