"""Inputs and outputs of the tenant, member and invitation use cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from application.common.caller import Caller
from domain.tenancy.models import Role

MAX_INVITES_PER_CALL = 50
DEFAULT_PAGE_LIMIT = 20


@dataclass(frozen=True, slots=True)
class TenancyPolicy:
    """Tunables of the tenancy rules, filled from settings by the composition root."""

    frontend_url: str
    # Wrong passwords tolerated per invitation (accepting as an existing user) per window.
    accept_failures_per_window: int = 10
    accept_failure_window_seconds: int = 15 * 60
    # Invitation emails a tenant may send (an inviter could otherwise mail anyone, at will),
    # and the pause before the same address may be invited again.
    invitations_per_tenant_per_hour: int = 100
    invitations_per_tenant_per_day: int = 300
    reinvite_cooldown_seconds: int = 10 * 60
    # New tenants' trial length (ASTRA_TRIAL_DAYS), to tell a tenant's plan before its
    # subscription row is stored.
    trial_days: int = 14


@dataclass(frozen=True, slots=True)
class TenantView:
    """A tenant as one of its members sees it."""

    id: str
    name: str
    role: Role
    plan: str
    member_count: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ListTenantsCommand:
    caller: Caller
    page: int = 1
    limit: int = DEFAULT_PAGE_LIMIT


@dataclass(frozen=True, slots=True)
class TenantPage:
    tenants: list[TenantView]
    page: int
    limit: int
    total: int


@dataclass(frozen=True, slots=True)
class SwitchTenantCommand:
    caller: Caller
    tenant_id: str


@dataclass(frozen=True, slots=True)
class CreateTenantCommand:
    caller: Caller
    name: str


@dataclass(frozen=True, slots=True)
class RenameTenantCommand:
    caller: Caller
    name: str


class MemberStatus(StrEnum):
    ACTIVE = "active"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class MemberView:
    user_id: str  # "" for a pending invitation
    email: str
    name: str
    avatar_url: str
    role: Role
    status: MemberStatus
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RemoveMemberCommand:
    caller: Caller
    email: str


@dataclass(frozen=True, slots=True)
class ChangeMemberRoleCommand:
    caller: Caller
    email: str
    role: str


@dataclass(frozen=True, slots=True)
class Invitee:
    email: str
    role: str = ""  # empty = normal


@dataclass(frozen=True, slots=True)
class InviteMembersCommand:
    """`tenant_id` empty = the caller's current tenant; internal callers must name it."""

    caller: Caller
    invitees: list[Invitee]
    tenant_id: str = ""
    field: str = "members"  # the request field that lists them, named in errors


class InviteStatus(StrEnum):
    SUCCESS = "success"
    DUPLICATE = "duplicate"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class InviteResult:
    email: str
    status: InviteStatus
    message: str = ""
    invite_url: str = ""


@dataclass(frozen=True, slots=True)
class InvitationInfo:
    email: str
    tenant_id: str


@dataclass(frozen=True, slots=True)
class AcceptInvitationCommand:
    invite_token: str
    email: str
    password: str
    tenant_id: str = ""
    from_link: str = ""
    country: str = ""
