"""The one place that decides whether a caller may act on a tenant (contract §1.2, §7)."""

from __future__ import annotations

from dataclasses import dataclass

from application.common.caller import Caller, CredentialKind
from application.common.ports import UnitOfWork
from domain.errors import PermissionDenied, Unauthenticated
from domain.tenancy.models import Role
from domain.tenancy.policy import API_KEY_ACTIONS, Action, require_role, scopes_allow


@dataclass(frozen=True, slots=True)
class TenantAccess:
    tenant_id: str
    role: Role | None  # None for API keys and internal callers


async def authorize(
    uow: UnitOfWork, caller: Caller, action: Action, tenant_id: str = ""
) -> TenantAccess:
    """Resolve the tenant the caller acts on and check `action` there.

    - `tenant_id` empty means "the caller's own" (the user's current tenant, the key's tenant).
    - TOKEN: the user must be a member of that tenant and their role must allow `action`.
    - API_KEY: only its own tenant (another → `PermissionDenied`), and a scope must allow it.
    - INTERNAL: any tenant, but it must be named (else the wrong kind: `Unauthenticated`).
    - An API key on an action no scope grants is the wrong kind too: `Unauthenticated`.
    """
    if caller.kind is CredentialKind.INTERNAL:
        if not tenant_id:
            # "Your own tenant" means nothing for an internal key: wrong kind (§1.2).
            raise Unauthenticated("this operation needs a user access token or an API key")
        return TenantAccess(tenant_id, None)
    if caller.kind is CredentialKind.API_KEY:
        if action not in API_KEY_ACTIONS:
            raise Unauthenticated("this operation needs a user access token")
        if tenant_id and tenant_id != caller.tenant_id:
            raise PermissionDenied("an API key acts only on its own tenant")
        if not scopes_allow(caller.scopes, action):
            raise PermissionDenied(f"this API key has no scope for {action.value}")
        return TenantAccess(caller.tenant_id, None)
    user = await uow.users.get(caller.user_id)
    if user is None:
        raise Unauthenticated("the account no longer exists")
    target = tenant_id or user.current_tenant_id
    membership = await uow.memberships.get(target, user.id) if target else None
    if membership is None:
        raise PermissionDenied("you are not a member of this tenant")
    require_role(membership.role, action)
    return TenantAccess(target, membership.role)


def require_user(caller: Caller) -> str:
    """Endpoints for signed-in people only (e.g. switching tenant) refuse keys: the wrong kind
    of credential, `Unauthenticated` (§1.2)."""
    if caller.kind is not CredentialKind.TOKEN:
        raise Unauthenticated("this endpoint needs a user access token")
    return caller.user_id
