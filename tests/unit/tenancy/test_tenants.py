"""Tenants a person belongs to: list, current, switch, create, rename."""

from __future__ import annotations

import pytest

from application.common.caller import Caller
from application.tenancy.commands import (
    CreateTenantCommand,
    ListTenantsCommand,
    RenameTenantCommand,
    SwitchTenantCommand,
)
from domain.errors import InvalidArgument, PermissionDenied, Unauthenticated
from domain.tenancy.models import Role
from domain.tenancy.policy import Scope
from tests.unit.tenancy.kit import TenancyKit


async def test_list_shows_each_membership_with_role_plan_and_member_count() -> None:
    kit = TenancyKit()
    ann, ann_caller = await kit.sign_up("ann@example.com")
    bob, _ = await kit.sign_up("bob@example.com")
    await kit.join(bob.current_tenant_id, ann, Role.ADMIN)

    page = await kit.use.list_tenants(ListTenantsCommand(ann_caller))

    assert (page.page, page.limit, page.total) == (1, 20, 2)
    assert [(t.id, t.role, t.member_count) for t in page.tenants] == [
        (ann.current_tenant_id, Role.OWNER, 1),
        (bob.current_tenant_id, Role.ADMIN, 2),
    ]
    assert {t.plan for t in page.tenants} == {"NEW_USER_TRIAL"}


async def test_list_pages_through_the_memberships() -> None:
    kit = TenancyKit()
    _, caller = await kit.sign_up("ann@example.com")
    for n in range(4):
        await kit.use.create_tenant(CreateTenantCommand(caller, f"Team {n}"))

    second = await kit.use.list_tenants(ListTenantsCommand(caller, page=2, limit=2))
    beyond = await kit.use.list_tenants(ListTenantsCommand(caller, page=4, limit=2))

    assert [t.name for t in second.tenants] == ["Team 1", "Team 2"]
    assert second.total == 5
    assert beyond.tenants == []


@pytest.mark.parametrize(
    ("page", "limit", "field"), [(0, 20, "page"), (1, 0, "limit"), (1, 101, "limit")]
)
async def test_list_refuses_paging_out_of_range(page: int, limit: int, field: str) -> None:
    kit = TenancyKit()
    _, caller = await kit.sign_up("ann@example.com")

    with pytest.raises(InvalidArgument) as raised:
        await kit.use.list_tenants(ListTenantsCommand(caller, page=page, limit=limit))
    assert raised.value.field == field


async def test_list_accepts_the_largest_limit() -> None:
    kit = TenancyKit()
    _, caller = await kit.sign_up("ann@example.com")

    page = await kit.use.list_tenants(ListTenantsCommand(caller, limit=100))

    assert page.limit == 100


@pytest.mark.parametrize(
    "caller",
    [Caller.api_key("t-1", "k-1", frozenset(Scope)), Caller.internal()],
    ids=["api_key", "internal"],
)
async def test_tenant_endpoints_for_people_refuse_keys(caller: Caller) -> None:
    kit = TenancyKit()

    with pytest.raises(Unauthenticated):
        await kit.use.list_tenants(ListTenantsCommand(caller))
    with pytest.raises(Unauthenticated):
        await kit.use.current_tenant(caller)
    with pytest.raises(Unauthenticated):
        await kit.use.switch_tenant(SwitchTenantCommand(caller, "t-1"))
    with pytest.raises(Unauthenticated):
        await kit.use.create_tenant(CreateTenantCommand(caller, "Keys"))
    with pytest.raises(Unauthenticated):
        await kit.use.rename_tenant(RenameTenantCommand(caller, "Keys"))


async def test_current_is_the_users_current_tenant_with_their_role() -> None:
    kit = TenancyKit()
    ann, caller = await kit.sign_up("ann@example.com")

    view = await kit.use.current_tenant(caller)

    assert (view.id, view.role, view.member_count) == (ann.current_tenant_id, Role.OWNER, 1)


async def test_switch_into_a_tenant_of_which_one_is_a_member() -> None:
    kit = TenancyKit()
    ann, ann_caller = await kit.sign_up("ann@example.com")
    bob, _ = await kit.sign_up("bob@example.com")
    await kit.join(bob.current_tenant_id, ann, Role.NORMAL)

    view = await kit.use.switch_tenant(SwitchTenantCommand(ann_caller, bob.current_tenant_id))

    assert (view.id, view.role) == (bob.current_tenant_id, Role.NORMAL)
    assert kit.user("ann@example.com").current_tenant_id == bob.current_tenant_id
    assert (await kit.use.current_tenant(ann_caller)).id == bob.current_tenant_id


async def test_switch_into_a_foreign_tenant_is_refused_and_changes_nothing() -> None:
    kit = TenancyKit()
    ann, ann_caller = await kit.sign_up("ann@example.com")
    bob, _ = await kit.sign_up("bob@example.com")

    with pytest.raises(PermissionDenied):
        await kit.use.switch_tenant(SwitchTenantCommand(ann_caller, bob.current_tenant_id))
    with pytest.raises(PermissionDenied):
        await kit.use.switch_tenant(SwitchTenantCommand(ann_caller, "no-such-tenant"))

    assert kit.user("ann@example.com").current_tenant_id == ann.current_tenant_id


async def test_create_makes_the_caller_sole_owner_without_switching() -> None:
    kit = TenancyKit()
    ann, caller = await kit.sign_up("ann@example.com")

    view = await kit.use.create_tenant(CreateTenantCommand(caller, "  Side project "))

    assert (view.name, view.role, view.member_count) == ("Side project", Role.OWNER, 1)
    assert kit.role_of(view.id, ann) is Role.OWNER
    assert kit.user("ann@example.com").current_tenant_id == ann.current_tenant_id


async def test_create_becomes_current_for_someone_without_a_tenant() -> None:
    kit = TenancyKit()
    ann, caller = await kit.sign_up("ann@example.com")
    async with kit.uow_factory() as uow:
        await uow.tenants.delete(ann.current_tenant_id)
        ann.current_tenant_id = ""
        await uow.users.update(ann)
        await uow.commit()

    view = await kit.use.create_tenant(CreateTenantCommand(caller, "Fresh start"))

    assert kit.user("ann@example.com").current_tenant_id == view.id


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "bad\x00name"])
async def test_create_refuses_invalid_names(name: str) -> None:
    kit = TenancyKit()
    _, caller = await kit.sign_up("ann@example.com")

    with pytest.raises(InvalidArgument):
        await kit.use.create_tenant(CreateTenantCommand(caller, name))


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
async def test_owners_and_admins_rename_the_current_tenant(role: Role) -> None:
    kit = TenancyKit()
    ann, _ = await kit.sign_up("ann@example.com")
    bob, bob_caller = await kit.sign_up("bob@example.com")
    await kit.join(ann.current_tenant_id, bob, role)
    await kit.use.switch_tenant(SwitchTenantCommand(bob_caller, ann.current_tenant_id))

    await kit.use.rename_tenant(RenameTenantCommand(bob_caller, "Renamed"))

    assert kit.store.tenants[ann.current_tenant_id].name == "Renamed"


async def test_normal_members_may_not_rename() -> None:
    kit = TenancyKit()
    ann, _ = await kit.sign_up("ann@example.com")
    bob, bob_caller = await kit.sign_up("bob@example.com")
    await kit.join(ann.current_tenant_id, bob, Role.NORMAL)
    await kit.use.switch_tenant(SwitchTenantCommand(bob_caller, ann.current_tenant_id))
    before = kit.store.tenants[ann.current_tenant_id].name

    with pytest.raises(PermissionDenied):
        await kit.use.rename_tenant(RenameTenantCommand(bob_caller, "Mine now"))

    assert kit.store.tenants[ann.current_tenant_id].name == before
