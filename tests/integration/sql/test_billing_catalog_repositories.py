"""Plan and subscription repositories: unique names, one subscription per tenant."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.uow import SqlUnitOfWorkFactory
from domain.billing.plans import Plan, UsageCategory, UsageConfig
from domain.errors import AlreadyExists, NotFound
from domain.tenancy.models import Tenant
from tests.integration.sql.billing_factories import make_plan, make_trial
from tests.integration.sql.factories import make_tenant, utc_now


async def add_tenant(uow_factory: SqlUnitOfWorkFactory) -> Tenant:
    tenant = make_tenant()
    async with uow_factory() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    return tenant


async def test_a_plan_round_trips_and_its_name_is_unique(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    plan = make_plan()
    async with uow_factory() as uow:
        await uow.plans.add(plan)
        with pytest.raises(AlreadyExists):
            await uow.plans.add(make_plan(plan_name=plan.plan_name))
        # The refusal leaves the transaction usable.
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.plans.get(plan.plan_name) == plan
        assert await uow.plans.get("no-such-plan") is None
        names = [stored.plan_name for stored in await uow.plans.list()]
    assert plan.plan_name in names
    assert names == sorted(names)


async def test_a_plan_update_replaces_its_terms(uow_factory: SqlUnitOfWorkFactory) -> None:
    plan = make_plan()
    async with uow_factory() as uow:
        await uow.plans.add(plan)
        await uow.commit()

    later = utc_now() + timedelta(minutes=1)
    plan.change_terms("bigger", [UsageConfig(UsageCategory.USAGE_CREDIT, 9_000)], 0, later)
    async with uow_factory() as uow:
        await uow.plans.update(plan)
        with pytest.raises(NotFound):
            await uow.plans.update(make_plan())
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.plans.get(plan.plan_name) == plan


async def test_deleting_a_plan_says_whether_there_was_one(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    plan = make_plan()
    async with uow_factory() as uow:
        await uow.plans.add(plan)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.plans.delete(plan.plan_name) is True
        assert await uow.plans.delete(plan.plan_name) is False
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.plans.get(plan.plan_name) is None


async def test_a_plan_is_in_use_while_a_tenant_is_on_it(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    on_custom, on_pro = await add_tenant(uow_factory), await add_tenant(uow_factory)
    custom = make_plan(plan_name=on_custom.id)
    unused_custom = make_plan()
    custom_subscription = make_trial(on_custom.id)
    custom_subscription.plan, custom_subscription.trial = Plan.CUSTOM, False
    pro_subscription = make_trial(on_pro.id)
    pro_subscription.plan, pro_subscription.trial = Plan.PRO, False
    async with uow_factory() as uow:
        await uow.plans.add(custom)
        await uow.plans.add(unused_custom)
        await uow.subscriptions.add(custom_subscription)
        await uow.subscriptions.add(pro_subscription)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.plans.is_in_use(on_custom.id) is True
        assert await uow.plans.is_in_use(Plan.PRO.value) is True
        assert await uow.plans.is_in_use(unused_custom.plan_name) is False
        # A CUSTOM subscription does not make the plan literally named "CUSTOM" in use.
        assert await uow.plans.is_in_use(Plan.CUSTOM.value) is False


async def test_a_subscription_round_trips_and_is_one_per_tenant(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    ours, theirs = await add_tenant(uow_factory), await add_tenant(uow_factory)
    subscription = make_trial(ours.id)
    async with uow_factory() as uow:
        await uow.subscriptions.add(subscription)
        with pytest.raises(AlreadyExists):
            await uow.subscriptions.add(make_trial(ours.id))
        # The loser of a race reads the winner's row in the same transaction.
        assert await uow.subscriptions.get_for_tenant(ours.id) == subscription
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.subscriptions.get_for_tenant(ours.id) == subscription
        assert await uow.subscriptions.get_for_tenant(theirs.id) is None


async def test_a_subscription_update_is_stored_and_needs_a_row(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    ours, theirs = await add_tenant(uow_factory), await add_tenant(uow_factory)
    subscription = make_trial(ours.id, start_at=utc_now() - timedelta(days=30))
    async with uow_factory() as uow:
        await uow.subscriptions.add(subscription)
        await uow.commit()

    assert subscription.roll(utc_now()) is True
    async with uow_factory() as uow:
        await uow.subscriptions.update(subscription)
        with pytest.raises(NotFound):
            await uow.subscriptions.update(make_trial(theirs.id))
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.subscriptions.get_for_tenant(ours.id)
    assert stored == subscription
    assert stored is not None
    assert (stored.plan, stored.end_at, stored.trial) == (Plan.FREE, None, False)


async def test_deleting_a_tenant_deletes_its_subscription(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    async with uow_factory() as uow:
        await uow.subscriptions.add(make_trial(tenant.id))
        await uow.commit()

    async with uow_factory() as uow:
        await uow.tenants.delete(tenant.id)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.subscriptions.get_for_tenant(tenant.id) is None


async def test_concurrent_materializations_store_exactly_one_subscription(
    migrated_database_url: str,
) -> None:
    engine = create_engine(migrated_database_url, pool_size=8)
    uow_factory = SqlUnitOfWorkFactory(create_sessionmaker(engine))
    try:
        tenant = await add_tenant(uow_factory)
        start = asyncio.Event()

        async def materialize() -> bool:
            async with uow_factory() as uow:
                await start.wait()
                try:
                    await uow.subscriptions.add(make_trial(tenant.id))
                except AlreadyExists:
                    return False
                await uow.commit()
                return True

        racers = [asyncio.create_task(materialize()) for _ in range(8)]
        await asyncio.sleep(0)
        start.set()
        outcomes = await asyncio.gather(*racers)
    finally:
        await engine.dispose()

    assert outcomes.count(True) == 1
