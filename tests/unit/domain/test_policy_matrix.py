"""Every action by role by credential kind, against the role table of contract §7.

The expected table is written out here from the contract, not derived from `ROLE_ACTIONS` or
`SCOPE_ACTIONS`, so a change to the policy that the contract does not allow fails this test.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from adapters.memory.uow import InMemoryStore, InMemoryUnitOfWorkFactory
from application.common.caller import Caller
from application.tenancy.access import TenantAccess, authorize
from domain.errors import PermissionDenied, Unauthenticated
from domain.tenancy.models import Role
from domain.tenancy.policy import Action, Scope, check_member_change, role_allows, scopes_allow
from tests.fakes.factories import make_membership, make_tenant, make_user

Y, N = True, False
NO_SCOPE: frozenset[Scope] = frozenset()


@dataclass(frozen=True)
class Row:
    owner: bool
    admin: bool
    normal: bool
    scopes: frozenset[Scope]  # the single scopes that allow the action to an API key

    def allows(self, role: Role) -> bool:
        return {Role.OWNER: self.owner, Role.ADMIN: self.admin, Role.NORMAL: self.normal}[role]


CONTRACT_7: dict[Action, Row] = {
    # "read tenant, members, agents, leads, usage" | yes | yes | yes | by scope
    Action.READ_TENANT: Row(Y, Y, Y, NO_SCOPE),  # no scope names the tenant or its members
    # §4: the agent endpoints take "API_KEY with agents:*", so writing includes reading.
    Action.READ_AGENTS: Row(Y, Y, Y, frozenset({Scope.AGENTS_READ, Scope.AGENTS_WRITE})),
    Action.READ_LEADS: Row(Y, Y, Y, frozenset({Scope.LEADS_READ})),
    Action.READ_USAGE: Row(Y, Y, Y, frozenset({Scope.USAGE_READ})),
    # "create/update/delete agents, config, intentions; delete leads"
    #   | yes | yes | no | agents:write
    Action.WRITE_AGENTS: Row(Y, Y, N, frozenset({Scope.AGENTS_WRITE})),
    Action.DELETE_LEADS: Row(Y, Y, N, frozenset({Scope.AGENTS_WRITE})),
    # TenantUpdateName (§3): owner/admin
    Action.RENAME_TENANT: Row(Y, Y, N, NO_SCOPE),
    # "invite members, remove/change normal and admin members" | yes | yes | no | no
    Action.INVITE_MEMBERS: Row(Y, Y, N, NO_SCOPE),
    Action.MANAGE_MEMBERS: Row(Y, Y, N, NO_SCOPE),
    # "make someone owner, remove an owner" | yes | no | no | no
    Action.MANAGE_OWNERS: Row(Y, N, N, NO_SCOPE),
    # "subscriptions, add-ons, portal, API keys" | yes | API keys only | no | no
    Action.MANAGE_BILLING: Row(Y, N, N, NO_SCOPE),
    Action.MANAGE_API_KEYS: Row(Y, Y, N, NO_SCOPE),
    # "chat" | yes | yes | yes | chat:write
    Action.CHAT: Row(Y, Y, Y, frozenset({Scope.CHAT_WRITE})),
    # GetTenantWatiUserInfo (§3): "owner/admin of that tenant only"
    Action.READ_WATI_LINK: Row(Y, Y, N, NO_SCOPE),
}

ROLE_CELLS = [(action, role) for action in Action for role in Role]
SCOPE_CELLS = [(action, scope) for action in Action for scope in Scope]


def test_the_table_covers_every_action() -> None:
    assert set(CONTRACT_7) == set(Action)


# -- the pure policy ---------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "role"), ROLE_CELLS, ids=lambda v: str(v))
def test_role_policy_matches_the_contract(action: Action, role: Role) -> None:
    assert role_allows(role, action) is CONTRACT_7[action].allows(role)


@pytest.mark.parametrize(("action", "scope"), SCOPE_CELLS, ids=lambda v: str(v))
def test_scope_policy_matches_the_contract(action: Action, scope: Scope) -> None:
    assert scopes_allow(frozenset({scope}), action) is (scope in CONTRACT_7[action].scopes)


@pytest.mark.parametrize("action", list(Action), ids=str)
def test_a_key_without_scopes_is_allowed_nothing(action: Action) -> None:
    assert not scopes_allow(NO_SCOPE, action)


# "admin: yes (not owners, not to owner)"; only owners make or remove owners.
MEMBER_CHANGES: list[tuple[Role, Role, Role | None, bool]] = [
    # actor, target's role, new role (None = removal), allowed
    (Role.OWNER, Role.NORMAL, Role.ADMIN, Y),
    (Role.OWNER, Role.ADMIN, Role.NORMAL, Y),
    (Role.OWNER, Role.NORMAL, Role.OWNER, Y),
    (Role.OWNER, Role.OWNER, Role.ADMIN, Y),
    (Role.OWNER, Role.OWNER, None, Y),
    (Role.OWNER, Role.ADMIN, None, Y),
    (Role.ADMIN, Role.NORMAL, Role.ADMIN, Y),
    (Role.ADMIN, Role.ADMIN, Role.NORMAL, Y),
    (Role.ADMIN, Role.NORMAL, None, Y),
    (Role.ADMIN, Role.ADMIN, None, Y),
    (Role.ADMIN, Role.NORMAL, Role.OWNER, N),
    (Role.ADMIN, Role.ADMIN, Role.OWNER, N),
    (Role.ADMIN, Role.OWNER, Role.ADMIN, N),
    (Role.ADMIN, Role.OWNER, None, N),
    (Role.NORMAL, Role.NORMAL, Role.ADMIN, N),
    (Role.NORMAL, Role.NORMAL, None, N),
    (Role.NORMAL, Role.ADMIN, Role.NORMAL, N),
    (Role.NORMAL, Role.OWNER, None, N),
]


@pytest.mark.parametrize(("actor", "target", "new_role", "allowed"), MEMBER_CHANGES)
def test_member_changes_follow_the_contract(
    actor: Role, target: Role, new_role: Role | None, allowed: bool
) -> None:
    if allowed:
        check_member_change(actor, target, new_role)
    else:
        with pytest.raises(PermissionDenied):
            check_member_change(actor, target, new_role)


# -- authorize(): the policy as every use case applies it ----------------------------------------


@dataclass(frozen=True)
class World:
    uow: InMemoryUnitOfWorkFactory
    tenant_id: str
    other_tenant_id: str
    members: dict[Role, Caller]  # signed-in members of `tenant_id`, current tenant set to it


async def make_world() -> World:
    factory = InMemoryUnitOfWorkFactory(InMemoryStore())
    tenant, other = make_tenant(), make_tenant()
    members: dict[Role, Caller] = {}
    async with factory() as uow:
        await uow.tenants.add(tenant)
        await uow.tenants.add(other)
        for role in Role:
            user = make_user(current_tenant_id=tenant.id)
            await uow.users.add(user)
            await uow.memberships.add(
                make_membership(tenant_id=tenant.id, user_id=user.id, role=role)
            )
            members[role] = Caller.token(user.id, f"session-{role.value}")
        await uow.commit()
    return World(factory, tenant.id, other.id, members)


async def decide(world: World, caller: Caller, action: Action, tenant_id: str = "") -> bool:
    """True when allowed (checking what was granted), False on `PermissionDenied`."""
    async with world.uow() as uow:
        try:
            access = await authorize(uow, caller, action, tenant_id)
        except PermissionDenied:
            return False
    assert access.tenant_id == (tenant_id or world.tenant_id)
    return True


async def assert_wrong_kind(
    world: World, caller: Caller, action: Action, tenant_id: str = ""
) -> None:
    """§1.2: a credential of a kind the operation does not take is `16`, not `7`."""
    async with world.uow() as uow:
        with pytest.raises(Unauthenticated):
            await authorize(uow, caller, action, tenant_id)


@pytest.mark.parametrize(("action", "role"), ROLE_CELLS, ids=lambda v: str(v))
async def test_a_token_gets_what_its_role_allows_in_its_current_tenant(
    action: Action, role: Role
) -> None:
    world = await make_world()
    caller = world.members[role]
    expected = CONTRACT_7[action].allows(role)
    assert await decide(world, caller, action) is expected
    assert await decide(world, caller, action, world.tenant_id) is expected
    if expected:
        async with world.uow() as uow:
            assert await authorize(uow, caller, action) == TenantAccess(world.tenant_id, role)


@pytest.mark.parametrize(("action", "role"), ROLE_CELLS, ids=lambda v: str(v))
async def test_a_token_is_denied_everything_in_a_tenant_it_is_not_a_member_of(
    action: Action, role: Role
) -> None:
    world = await make_world()
    assert await decide(world, world.members[role], action, world.other_tenant_id) is False


@pytest.mark.parametrize(("action", "scope"), SCOPE_CELLS, ids=lambda v: str(v))
async def test_an_api_key_gets_what_its_scope_allows_in_its_own_tenant(
    action: Action, scope: Scope
) -> None:
    world = await make_world()
    caller = Caller.api_key(world.tenant_id, "key-1", frozenset({scope}))
    if not CONTRACT_7[action].scopes:  # no key may do it: a person's operation
        await assert_wrong_kind(world, caller, action)
        return
    expected = scope in CONTRACT_7[action].scopes
    assert await decide(world, caller, action) is expected
    assert await decide(world, caller, action, world.tenant_id) is expected
    if expected:
        async with world.uow() as uow:
            assert await authorize(uow, caller, action) == TenantAccess(world.tenant_id, None)


@pytest.mark.parametrize("action", list(Action), ids=str)
async def test_an_api_key_is_denied_everything_in_another_tenant(action: Action) -> None:
    world = await make_world()
    caller = Caller.api_key(world.tenant_id, "key-1", frozenset(Scope))
    if not CONTRACT_7[action].scopes:
        await assert_wrong_kind(world, caller, action, world.other_tenant_id)
        return
    assert await decide(world, caller, action, world.other_tenant_id) is False


@pytest.mark.parametrize("action", list(Action), ids=str)
async def test_an_internal_caller_acts_on_the_tenant_it_names(action: Action) -> None:
    world = await make_world()
    async with world.uow() as uow:
        access = await authorize(uow, Caller.internal(), action, world.other_tenant_id)
    assert access == TenantAccess(world.other_tenant_id, None)


@pytest.mark.parametrize("action", list(Action), ids=str)
async def test_an_internal_caller_without_a_tenant_is_the_wrong_kind(action: Action) -> None:
    world = await make_world()
    await assert_wrong_kind(world, Caller.internal(), action)
