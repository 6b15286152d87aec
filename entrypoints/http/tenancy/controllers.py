"""Tenancy endpoints (contract §3 Tenancy): thin translation to the use cases."""

from __future__ import annotations

from litestar import Controller, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from application.tenancy.commands import (
    DEFAULT_PAGE_LIMIT,
    AcceptInvitationCommand,
    ChangeMemberRoleCommand,
    CreateTenantCommand,
    Invitee,
    InviteMembersCommand,
    ListTenantsCommand,
    RemoveMemberCommand,
    RenameTenantCommand,
    SwitchTenantCommand,
)
from entrypoints.http.conventions import EmptyResponse, Int64, Page, i64
from entrypoints.http.dependencies import ANY_CREDENTIAL, INTERNAL_CREDENTIAL, CallerDep, Deps
from entrypoints.http.tenancy.schemas import (
    InternalInviteRequest,
    InternalInviteResponse,
    InviteAcceptRequest,
    InviteAcceptResponse,
    InviteCheckRequest,
    InviteCheckResponse,
    InviteResultBody,
    MemberBody,
    MemberEmailRequest,
    MemberInviteRequest,
    MemberInviteResponse,
    MemberListResponse,
    MemberRoleRequest,
    TenantBody,
    TenantListResponse,
    TenantNameRequest,
    TenantResponse,
    TenantSwitchRequest,
    TenantSwitchResponse,
)

# Every credential kind is authenticated (a bad one is 16); the use cases then refuse with 7
# whatever the caller's kind, role or tenant does not allow.


class UserTenantController(Controller):
    path = "/account/v1/user/tenants"
    tags = ["AccountService"]
    dependencies = ANY_CREDENTIAL

    @get("", operation_id="UserTenantList")
    async def list_tenants(
        self,
        container: Deps,
        caller: CallerDep,
        page: FromQuery[Int64] = Int64(1),
        limit: FromQuery[Int64] = Int64(DEFAULT_PAGE_LIMIT),
    ) -> TenantListResponse:
        result = await container.tenancy.list_tenants(
            ListTenantsCommand(caller=caller, page=page, limit=limit)
        )
        return TenantListResponse(
            tenants=[TenantBody.of(view) for view in result.tenants],
            page=Page(page=i64(result.page), limit=i64(result.limit), total=i64(result.total)),
        )

    @get("/current", operation_id="UserTenantCurrentGet")
    async def current_tenant(self, container: Deps, caller: CallerDep) -> TenantResponse:
        view = await container.tenancy.current_tenant(caller)
        return TenantResponse(tenant=TenantBody.of(view))

    @post("/switch", operation_id="UserTenantSwitch", status_code=200)
    async def switch_tenant(
        self, data: JSONBody[TenantSwitchRequest], container: Deps, caller: CallerDep
    ) -> TenantSwitchResponse:
        view = await container.tenancy.switch_tenant(
            SwitchTenantCommand(caller=caller, tenant_id=data.tenant_id)
        )
        return TenantSwitchResponse(tenant_info=TenantBody.of(view))

    @post("", operation_id="TenantCreate", status_code=200)
    async def create_tenant(
        self, data: JSONBody[TenantNameRequest], container: Deps, caller: CallerDep
    ) -> TenantResponse:
        view = await container.tenancy.create_tenant(
            CreateTenantCommand(caller=caller, name=data.name)
        )
        return TenantResponse(tenant=TenantBody.of(view))


class TenantController(Controller):
    path = "/account/v1/tenant"
    tags = ["AccountService"]
    dependencies = ANY_CREDENTIAL

    @put("/name", operation_id="TenantUpdateName", status_code=200)
    async def rename_tenant(
        self, data: JSONBody[TenantNameRequest], container: Deps, caller: CallerDep
    ) -> EmptyResponse:
        await container.tenancy.rename_tenant(RenameTenantCommand(caller=caller, name=data.name))
        return EmptyResponse()

    @get("/members", operation_id="UserTenantMemberList")
    async def list_members(self, container: Deps, caller: CallerDep) -> MemberListResponse:
        members = await container.tenancy.list_members(caller)
        return MemberListResponse(members=[MemberBody.of(member) for member in members])

    @post("/members/invite", operation_id="UserTenantMemberInviteByEmail", status_code=200)
    async def invite_members(
        self, data: JSONBody[MemberInviteRequest], container: Deps, caller: CallerDep
    ) -> MemberInviteResponse:
        results = await container.tenancy.invite_members(
            InviteMembersCommand(
                caller=caller,
                invitees=[Invitee(email=item.email, role=item.role) for item in data.members],
            )
        )
        return MemberInviteResponse(rets=[InviteResultBody.of(result) for result in results])

    @post("/members/delete", operation_id="UserTenantMemberDelete", status_code=200)
    async def remove_member(
        self, data: JSONBody[MemberEmailRequest], container: Deps, caller: CallerDep
    ) -> EmptyResponse:
        await container.tenancy.remove_member(RemoveMemberCommand(caller=caller, email=data.email))
        return EmptyResponse()

    @post("/members/role", operation_id="UserTenantMemberUpdateRole", status_code=200)
    async def change_member_role(
        self, data: JSONBody[MemberRoleRequest], container: Deps, caller: CallerDep
    ) -> EmptyResponse:
        await container.tenancy.change_member_role(
            ChangeMemberRoleCommand(caller=caller, email=data.email, role=data.role)
        )
        return EmptyResponse()


class InviteController(Controller):
    """The invite page's calls: the emailed token is the only credential."""

    path = "/account/v1/invites"
    tags = ["AccountService"]

    @post("/check", operation_id="UserCheckInvite", status_code=200)
    async def check_invite(
        self, data: JSONBody[InviteCheckRequest], container: Deps
    ) -> InviteCheckResponse:
        info = await container.tenancy.check_invitation(data.invite_token)
        return InviteCheckResponse(invite_email=info.email, tenant_id=info.tenant_id)

    @post("/accept", operation_id="UserAcceptInvite", status_code=200)
    async def accept_invite(
        self, data: JSONBody[InviteAcceptRequest], container: Deps
    ) -> InviteAcceptResponse:
        token = await container.tenancy.accept_invitation(
            AcceptInvitationCommand(
                invite_token=data.invite_token,
                email=data.email,
                password=data.password,
                tenant_id=data.tenant_id,
                from_link=data.from_link,
                country=data.country,
            )
        )
        return InviteAcceptResponse(token=token)


class InternalTenantController(Controller):
    path = "/account/internal/v1/tenants"
    tags = ["AccountService"]
    dependencies = INTERNAL_CREDENTIAL

    @post("/{tenant_id:str}/members/invite", operation_id="InternalInviteMembers", status_code=200)
    async def internal_invite_members(
        self,
        tenant_id: FromPath[str],
        data: JSONBody[InternalInviteRequest],
        container: Deps,
        caller: CallerDep,
    ) -> InternalInviteResponse:
        results = await container.tenancy.invite_members(
            InviteMembersCommand(
                caller=caller,
                invitees=[Invitee(email=email, role=data.role) for email in data.emails],
                tenant_id=tenant_id,
                field="emails",
            )
        )
        return InternalInviteResponse(
            invitation_results=[InviteResultBody.of(result) for result in results]
        )
