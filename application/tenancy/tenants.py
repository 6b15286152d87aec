"""The tenants a person belongs to: list, current, switch, create and rename."""

from __future__ import annotations

from datetime import datetime

from application.billing.subscriptions import plan_at
from application.common.caller import Caller
from application.common.paging import page_offset
from application.common.ports import Clock, IdGenerator, UnitOfWork, UnitOfWorkFactory
from application.tenancy.access import authorize, require_user
from application.tenancy.commands import (
    CreateTenantCommand,
    ListTenantsCommand,
    RenameTenantCommand,
    SwitchTenantCommand,
    TenancyPolicy,
    TenantPage,
    TenantView,
)
from domain.errors import InvalidArgument, NotFound, Unauthenticated
from domain.identity.rules import clean_name
from domain.tenancy.models import Membership, Role, Tenant
from domain.tenancy.policy import Action

TENANT_GONE = "the tenant no longer exists"


async def tenant_view(
    uow: UnitOfWork, tenant: Tenant, role: Role, now: datetime, trial_days: int
) -> TenantView:
    plan = await plan_at(uow, tenant, now, trial_days)
    return TenantView(
        id=tenant.id,
        name=tenant.name,
        role=role,
        plan=plan.value,
        member_count=await uow.memberships.count_for_tenant(tenant.id),
        created_at=tenant.created_at,
    )


async def _view_of(
    uow: UnitOfWork, tenant_id: str, role: Role | None, now: datetime, trial_days: int
) -> TenantView:
    tenant = await uow.tenants.get(tenant_id)
    if tenant is None or role is None:
        raise NotFound(TENANT_GONE)
    return await tenant_view(uow, tenant, role, now, trial_days)


class ListUserTenants:
    """The tenants the signed-in person is a member of, oldest membership first, paged.

    - Users only (API keys and internal keys → `PermissionDenied`).
    - `page` ≥ 1 and 1 ≤ `limit` ≤ 100, else `InvalidArgument`.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, policy: TenancyPolicy) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._policy = policy

    async def __call__(self, command: ListTenantsCommand) -> TenantPage:
        user_id = require_user(command.caller)
        start = page_offset(command.page, command.limit)
        now = self._clock.now()
        async with self._uow() as uow:
            memberships = await uow.memberships.list_for_user(user_id)
            views: list[TenantView] = []
            for membership in memberships[start : start + command.limit]:
                tenant = await uow.tenants.get(membership.tenant_id)
                if tenant is not None:
                    views.append(
                        await tenant_view(
                            uow, tenant, membership.role, now, self._policy.trial_days
                        )
                    )
        return TenantPage(views, command.page, command.limit, len(memberships))


class GetCurrentTenant:
    """The tenant the caller currently acts on, with the caller's role in it.

    - A person whose current tenant is gone or who was removed from it → `PermissionDenied`.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, policy: TenancyPolicy) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._policy = policy

    async def __call__(self, caller: Caller) -> TenantView:
        require_user(caller)
        now = self._clock.now()
        async with self._uow() as uow:
            access = await authorize(uow, caller, Action.READ_TENANT)
            return await _view_of(uow, access.tenant_id, access.role, now, self._policy.trial_days)


class SwitchTenant:
    """Make another tenant the person's current one.

    - The person must be a member of it, else `PermissionDenied` (nothing about it is shown).
    - The choice is kept on the user, not in the token: every session follows it at once.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, policy: TenancyPolicy) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._policy = policy

    async def __call__(self, command: SwitchTenantCommand) -> TenantView:
        user_id = require_user(command.caller)
        tenant_id = command.tenant_id.strip()
        if not tenant_id:
            raise InvalidArgument("tenant_id", "is required")
        async with self._uow() as uow:
            access = await authorize(uow, command.caller, Action.READ_TENANT, tenant_id)
            view = await _view_of(
                uow, access.tenant_id, access.role, self._clock.now(), self._policy.trial_days
            )
            user = await uow.users.get(user_id)
            if user is None:
                raise Unauthenticated("the account no longer exists")
            if user.current_tenant_id != tenant_id:
                user.current_tenant_id = tenant_id
                user.updated_at = self._clock.now()
                await uow.users.update(user)
                await uow.commit()
        return view


class CreateTenant:
    """Create a tenant owned by the signed-in person.

    - The name is cleaned like a display name (1-100 characters, no control characters).
    - The creator becomes its only owner; it starts on the trial.
    - It becomes the current tenant only if the person had none (switching stays explicit).
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        ids: IdGenerator,
        clock: Clock,
        policy: TenancyPolicy,
    ) -> None:
        self._uow = uow_factory
        self._ids = ids
        self._clock = clock
        self._policy = policy

    async def __call__(self, command: CreateTenantCommand) -> TenantView:
        user_id = require_user(command.caller)
        name = clean_name(command.name)
        now = self._clock.now()
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise Unauthenticated("the account no longer exists")
            tenant = Tenant(id=self._ids.new_id(), name=name, created_at=now, updated_at=now)
            await uow.tenants.add(tenant)
            await uow.memberships.add(Membership(tenant.id, user.id, Role.OWNER, now))
            if not user.current_tenant_id:
                user.current_tenant_id = tenant.id
                user.updated_at = now
                await uow.users.update(user)
            view = await tenant_view(uow, tenant, Role.OWNER, now, self._policy.trial_days)
            await uow.commit()
        return view


class RenameTenant:
    """Rename the caller's current tenant (owners and admins).

    - The name is cleaned like a display name.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow_factory
        self._clock = clock

    async def __call__(self, command: RenameTenantCommand) -> None:
        name = clean_name(command.name)
        async with self._uow() as uow:
            access = await authorize(uow, command.caller, Action.RENAME_TENANT)
            tenant = await uow.tenants.get(access.tenant_id)
            if tenant is None:
                raise NotFound(TENANT_GONE)
            tenant.name = name
            tenant.updated_at = self._clock.now()
            await uow.tenants.update(tenant)
            await uow.commit()
