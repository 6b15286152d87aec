"""HTTP request and response bodies of the tenancy endpoints (contract §2, §3 Tenancy)."""

from __future__ import annotations

import msgspec

from application.tenancy.commands import InviteResult, MemberView, TenantView
from entrypoints.http.conventions import Page, i64, timestamp


class TenantBody(msgspec.Struct):
    id: str
    name: str
    role: str
    plan: str
    member_count: str
    created_at: str

    @classmethod
    def of(cls, view: TenantView) -> TenantBody:
        return cls(
            id=view.id,
            name=view.name,
            role=view.role.value,
            plan=view.plan,
            member_count=i64(view.member_count),
            created_at=timestamp(view.created_at),
        )


class TenantListResponse(msgspec.Struct):
    tenants: list[TenantBody]
    page: Page


class TenantResponse(msgspec.Struct):
    tenant: TenantBody


class TenantSwitchRequest(msgspec.Struct):
    tenant_id: str = ""


class TenantSwitchResponse(msgspec.Struct):
    tenant_info: TenantBody


class TenantNameRequest(msgspec.Struct):
    name: str = ""


class MemberBody(msgspec.Struct):
    user_id: str
    email: str
    name: str
    avatar_url: str
    role: str
    status: str
    created_at: str

    @classmethod
    def of(cls, view: MemberView) -> MemberBody:
        return cls(
            user_id=view.user_id,
            email=view.email,
            name=view.name,
            avatar_url=view.avatar_url,
            role=view.role.value,
            status=view.status.value,
            created_at=timestamp(view.created_at),
        )


class MemberListResponse(msgspec.Struct):
    members: list[MemberBody]


class InviteeBody(msgspec.Struct):
    email: str = ""
    role: str = ""


class MemberInviteRequest(msgspec.Struct):
    members: list[InviteeBody] = msgspec.field(default_factory=list)


class InviteResultBody(msgspec.Struct):
    email: str
    status: str
    message: str
    invite_url: str

    @classmethod
    def of(cls, result: InviteResult) -> InviteResultBody:
        return cls(
            email=result.email,
            status=result.status.value,
            message=result.message,
            invite_url=result.invite_url,
        )


class MemberInviteResponse(msgspec.Struct):
    rets: list[InviteResultBody]


class MemberEmailRequest(msgspec.Struct):
    email: str = ""


class MemberRoleRequest(msgspec.Struct):
    email: str = ""
    role: str = ""


class InviteCheckRequest(msgspec.Struct):
    invite_token: str = ""


class InviteCheckResponse(msgspec.Struct):
    invite_email: str
    tenant_id: str


class InviteAcceptRequest(msgspec.Struct):
    email: str = ""
    password: str = ""
    tenant_id: str = ""
    invite_token: str = ""
    from_link: str = ""
    country: str = ""


class InviteAcceptResponse(msgspec.Struct):
    token: str


class InternalInviteRequest(msgspec.Struct):
    emails: list[str] = msgspec.field(default_factory=list)
    role: str = ""


class InternalInviteResponse(msgspec.Struct):
    invitation_results: list[InviteResultBody]
