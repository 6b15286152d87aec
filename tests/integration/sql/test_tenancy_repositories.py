"""Tenant and membership repositories keep every tenant's data to itself."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.uow import SqlUnitOfWorkFactory
from domain.errors import AlreadyExists, NotFound
from domain.tenancy.models import Role
from tests.integration.sql.factories import make_membership, make_tenant, make_user, utc_now


async def test_tenant_round_trips(uow_factory: SqlUnitOfWorkFactory) -> None:
    tenant = make_tenant()
    async with uow_factory() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.tenants.get(tenant.id) == tenant
        assert await uow.tenants.get("no-such-tenant") is None


async def test_memberships_are_listed_and_counted_per_tenant_only(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    ours, theirs = make_tenant(), make_tenant()
    alice, bob, carol = make_user(), make_user(), make_user()
    alice_ours = make_membership(ours.id, alice.id, role=Role.OWNER)
    bob_ours = make_membership(ours.id, bob.id, role=Role.NORMAL)
    alice_theirs = make_membership(theirs.id, alice.id, role=Role.ADMIN)
    carol_theirs = make_membership(theirs.id, carol.id)
    async with uow_factory() as uow:
        for user in (alice, bob, carol):
            await uow.users.add(user)
        await uow.tenants.add(ours)
        await uow.tenants.add(theirs)
        for membership in (alice_ours, bob_ours, alice_theirs, carol_theirs):
            await uow.memberships.add(membership)
        await uow.commit()

    async with uow_factory() as uow:
        in_ours = await uow.memberships.list_for_tenant(ours.id)
        count_ours = await uow.memberships.count_for_tenant(ours.id)
        alices = await uow.memberships.list_for_user(alice.id)
        bob_in_theirs = await uow.memberships.get(theirs.id, bob.id)
        alice_in_theirs = await uow.memberships.get(theirs.id, alice.id)

    assert {m.user_id for m in in_ours} == {alice.id, bob.id}
    assert count_ours == 2
    assert {(m.tenant_id, m.role) for m in alices} == {
        (ours.id, Role.OWNER),
        (theirs.id, Role.ADMIN),
    }
    assert bob_in_theirs is None
    assert alice_in_theirs == alice_theirs


async def test_deleting_a_membership_leaves_the_other_tenants_alone(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    ours, theirs, user = make_tenant(), make_tenant(), make_user()
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.tenants.add(ours)
        await uow.tenants.add(theirs)
        await uow.memberships.add(make_membership(ours.id, user.id))
        await uow.memberships.add(make_membership(theirs.id, user.id))
        await uow.commit()

    async with uow_factory() as uow:
        await uow.memberships.delete(ours.id, user.id)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.memberships.get(ours.id, user.id) is None
        assert await uow.memberships.get(theirs.id, user.id) is not None


async def test_deleting_a_tenant_deletes_its_memberships_but_not_its_users(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    tenant, user = make_tenant(), make_user()
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.tenants.add(tenant)
        await uow.memberships.add(make_membership(tenant.id, user.id))
        await uow.commit()

    async with uow_factory() as uow:
        await uow.tenants.delete(tenant.id)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.tenants.get(tenant.id) is None
        assert await uow.memberships.count_for_tenant(tenant.id) == 0
        assert await uow.users.get(user.id) is not None


async def test_adding_the_same_membership_twice_raises_already_exists(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    tenant, user = make_tenant(), make_user()
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.tenants.add(tenant)
        await uow.memberships.add(make_membership(tenant.id, user.id))
        await uow.commit()

    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.memberships.add(make_membership(tenant.id, user.id, role=Role.ADMIN))


async def test_tenant_update_stores_the_new_name(uow_factory: SqlUnitOfWorkFactory) -> None:
    tenant = make_tenant()
    async with uow_factory() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()

    renamed = replace(tenant, name="Renamed", updated_at=utc_now() + timedelta(seconds=1))
    async with uow_factory() as uow:
        await uow.tenants.update(renamed)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.tenants.get(tenant.id) == renamed


async def test_updating_a_missing_tenant_raises_not_found(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.tenants.update(make_tenant())


async def test_membership_update_changes_one_tenants_role_only(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    ours, theirs, user = make_tenant(), make_tenant(), make_user()
    in_ours = make_membership(ours.id, user.id, role=Role.NORMAL)
    in_theirs = make_membership(theirs.id, user.id, role=Role.NORMAL)
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.tenants.add(ours)
        await uow.tenants.add(theirs)
        await uow.memberships.add(in_ours)
        await uow.memberships.add(in_theirs)
        await uow.commit()

    async with uow_factory() as uow:
        await uow.memberships.update(replace(in_ours, role=Role.ADMIN))
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.memberships.get(ours.id, user.id) == replace(in_ours, role=Role.ADMIN)
        assert await uow.memberships.get(theirs.id, user.id) == in_theirs


async def test_updating_a_missing_membership_raises_not_found(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    tenant, user = make_tenant(), make_user()
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.tenants.add(tenant)
        await uow.commit()

    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.memberships.update(make_membership(tenant.id, user.id))


async def test_tenant_lock_makes_a_second_transaction_wait_on_postgresql(
    migrated_database_url: str,
) -> None:
    engine = create_engine(migrated_database_url, pool_size=2)
    factory = SqlUnitOfWorkFactory(create_sessionmaker(engine))
    tenant = make_tenant()
    try:
        async with factory() as uow:
            await uow.tenants.add(tenant)
            await uow.commit()
        order: list[str] = []
        first_locked = asyncio.Event()

        async def first() -> None:
            async with factory() as uow:
                await uow.tenants.lock(tenant.id)
                first_locked.set()
                await asyncio.sleep(0.3)
                order.append("first done")
                await uow.commit()

        async def second() -> None:
            await first_locked.wait()
            async with factory() as uow:
                await uow.tenants.lock(tenant.id)
                order.append("second locked")
                await uow.commit()

        await asyncio.gather(first(), second())
        assert order == ["first done", "second locked"]
    finally:
        await engine.dispose()
