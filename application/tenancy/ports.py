"""Ports the tenancy use cases need."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.tenancy.models import ApiKey, Invitation, Membership, Tenant
from domain.tenancy.policy import Scope


class TenantRepository(Protocol):
    async def get(self, tenant_id: str) -> Tenant | None: ...

    async def add(self, tenant: Tenant) -> None: ...

    async def update(self, tenant: Tenant) -> None: ...

    async def lock(self, tenant_id: str) -> None:
        """Serialize membership changes of one tenant until this transaction ends.

        Used before "is this the last owner?" checks, so two owners demoting each other at
        the same moment cannot both succeed and leave the tenant without an owner.
        """
        ...

    async def delete(self, tenant_id: str) -> None: ...


class MembershipRepository(Protocol):
    async def add(self, membership: Membership) -> None: ...

    async def get(self, tenant_id: str, user_id: str) -> Membership | None: ...

    async def list_for_user(self, user_id: str) -> list[Membership]: ...

    async def list_for_tenant(self, tenant_id: str) -> list[Membership]: ...

    async def count_for_tenant(self, tenant_id: str) -> int: ...

    async def update(self, membership: Membership) -> None: ...

    async def delete(self, tenant_id: str, user_id: str) -> None: ...


class InvitationRepository(Protocol):
    async def add(self, invitation: Invitation) -> None: ...

    async def update(self, invitation: Invitation) -> None: ...

    async def get_by_token_hash(self, token_hash: str) -> Invitation | None: ...

    async def accept(self, invitation_id: str, now: datetime) -> bool:
        """Mark the invitation used if it is still pending at `now`; False when another
        request won (or it expired or was revoked meanwhile). One conditional write, so
        exactly one of many concurrent accepts succeeds."""
        ...

    async def list_pending_for_email(self, tenant_id: str, email: str) -> list[Invitation]:
        """Unaccepted, unrevoked invitations of `email` into `tenant_id` (expired included)."""
        ...

    async def list_for_tenant(self, tenant_id: str) -> list[Invitation]: ...


class ApiKeyRepository(Protocol):
    async def add(self, key: ApiKey) -> None: ...

    async def get(self, key_id: str) -> ApiKey | None:
        """Any tenant's key by id: used only to authenticate, which then checks the secret."""
        ...

    async def get_for_tenant(self, tenant_id: str, key_id: str) -> ApiKey | None: ...

    async def list_for_tenant(self, tenant_id: str) -> list[ApiKey]: ...

    async def delete(self, tenant_id: str, key_id: str) -> bool: ...

    async def touch(self, key_id: str, used_at: datetime) -> None:
        """Record use; callers rate-limit this to once a minute per key."""
        ...


@dataclass(frozen=True, slots=True)
class ApiKeyCredential:
    """What authenticating one API key needs; safe to keep in memory (the secret is hashed)."""

    key_id: str
    tenant_id: str
    scopes: frozenset[Scope]
    secret_hash: str
    expires_at: datetime | None


class ApiKeyCache(Protocol):
    """Per-process memory of recently authenticated keys, so most requests skip the database.

    Entries live at most about a second, which bounds how long a key deleted on another replica
    keeps working; `drop` forgets one at once (deletion through this process).
    """

    async def get(
        self, key_id: str, load: Callable[[str], Awaitable[ApiKeyCredential | None]]
    ) -> ApiKeyCredential | None:
        """The cached credential, else `load(key_id)`; concurrent misses share one load."""
        ...

    def drop(self, key_id: str) -> None: ...
