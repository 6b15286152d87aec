"""Tenancy entities: a tenant (team) and a person's membership in it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

INVITATION_LIFETIME = timedelta(days=7)
API_KEY_PREFIX = "sk_live_"


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    NORMAL = "normal"


@dataclass(slots=True)
class Tenant:
    id: str
    name: str
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class Membership:
    tenant_id: str
    user_id: str
    role: Role
    created_at: datetime


def default_tenant_name(display_name: str) -> str:
    return f"{display_name}'s team"[:100]


@dataclass(slots=True)
class Invitation:
    """A pending invitation of one email into one tenant; the token itself is never stored."""

    id: str
    tenant_id: str
    email: str
    role: Role
    token_hash: str
    invited_by: str  # user id, or "" for an internal (operator) invitation
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None
    revoked_at: datetime | None = None

    def is_pending(self, now: datetime) -> bool:
        return self.accepted_at is None and self.revoked_at is None and now < self.expires_at

    def revoke(self, now: datetime) -> None:
        if self.revoked_at is None:
            self.revoked_at = now


@dataclass(slots=True)
class ApiKey:
    """A tenant's server credential `sk_live_<id>_<secret>`; only the secret's hash is kept."""

    id: str
    tenant_id: str
    name: str
    scopes: list[str]
    secret_hash: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def prefix(self) -> str:
        return f"{API_KEY_PREFIX}{self.id}_"

    def is_usable(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at
