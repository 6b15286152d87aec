"""Plans, subscriptions, lazy grants, usage reads and limits over the in-memory store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.billing.limits import check_plan_limit
from application.billing.offers import ListVariantsQuery
from application.billing.plans import PlanTermsCommand, UsageConfigInput
from application.billing.subscriptions import BillingPolicy, ChangeSubscriptionCommand
from application.billing.usage import AdjustCreditsCommand, AgentCreditsQuery
from application.common.caller import Caller
from application.tenancy.commands import ListTenantsCommand
from domain.billing.plans import Period, Plan, UsageCategory
from domain.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from domain.tenancy.policy import Scope
from tests.unit.billing.catalog_kit import INTERNAL, TRIAL_DAYS, CatalogKit
from tests.unit.tenancy.kit import TenancyKit

CREDIT = UsageCategory.USAGE_CREDIT.value


def rfc3339(kit: CatalogKit, days: float) -> str:
    return (kit.now + timedelta(days=days)).isoformat()


async def test_a_new_tenant_is_on_the_trial_with_its_credits() -> None:
    kit = CatalogKit()
    tenant_id, _ = kit.tenant_with_member()

    subscription = await kit.billing.get_subscription(INTERNAL, tenant_id)

    assert subscription.plan is Plan.NEW_USER_TRIAL
    assert subscription.end_at == kit.now + timedelta(days=TRIAL_DAYS)
    assert (await kit.usage(tenant_id))[CREDIT] == (200, 0)
    assert await kit.billing.ledger.balance(tenant_id, kit.now) == 200


async def test_the_trial_grant_is_made_once_however_often_it_is_read() -> None:
    kit = CatalogKit()
    tenant_id, _ = kit.tenant_with_member()
    for _ in range(3):
        await kit.usage(tenant_id)
        await kit.billing.ledger.balance(tenant_id, kit.now)
    assert len(kit.store.ledger.grants) == 1
    assert len(kit.store.catalog.subscriptions) == 1


async def test_after_the_trial_the_tenant_gets_free_credits_once_per_month() -> None:
    kit = CatalogKit()
    tenant_id, _ = kit.tenant_with_member()
    await kit.usage(tenant_id)
    kit.clock.advance(days=TRIAL_DAYS)

    assert (await kit.billing.get_subscription(INTERNAL, tenant_id)).plan is Plan.FREE
    # The trial's credits expired with it (no extension days on the trial plan).
    assert await kit.billing.ledger.balance(tenant_id, kit.now) == 100
    await kit.billing.ledger.balance(tenant_id, kit.now + timedelta(days=3))
    assert len(kit.store.ledger.grants) == 2

    kit.clock.advance(days=31)
    assert await kit.billing.ledger.balance(tenant_id, kit.now) == 100
    assert await kit.billing.ledger.balance(tenant_id, kit.now) == 100
    assert len(kit.store.ledger.grants) == 3


async def test_credit_extension_keeps_last_periods_credits_usable() -> None:
    kit = CatalogKit()
    tenant_id, _ = kit.tenant_with_member()
    configs = [UsageConfigInput("USAGE_CREDIT", 100), UsageConfigInput("USAGE_AI_AGENT", 1)]
    await kit.billing.update_plan(PlanTermsCommand(INTERNAL, "FREE", "Free", configs, 10))
    kit.clock.advance(days=TRIAL_DAYS)
    await kit.billing.ledger.reserve(tenant_id, 30, "msg-1", "agent-1", kit.now)
    await kit.billing.ledger.settle("msg-1", 30, kit.now)

    kit.clock.advance(days=32)  # the next month, within the 10 days' extension

    assert await kit.billing.ledger.balance(tenant_id, kit.now) == 170
    assert (await kit.usage(tenant_id))[CREDIT] == (200, 30)
    kit.clock.advance(days=10)
    assert await kit.billing.ledger.balance(tenant_id, kit.now) == 100


async def test_an_operator_extends_a_running_trial_only() -> None:
    kit = CatalogKit()
    tenant_id, _ = kit.tenant_with_member()
    new_end = kit.now + timedelta(days=30)

    changed = await kit.billing.change_subscription(
        ChangeSubscriptionCommand(INTERNAL, tenant_id, new_end.isoformat())
    )
    assert changed.end_at == new_end
    kit.clock.advance(days=20)
    assert (await kit.billing.get_subscription(INTERNAL, tenant_id)).plan is Plan.NEW_USER_TRIAL

    kit.clock.advance(days=10)
    with pytest.raises(FailedPrecondition):
        await kit.billing.change_subscription(
            ChangeSubscriptionCommand(INTERNAL, tenant_id, rfc3339(kit, 5))
        )


async def test_subscription_administration_is_internal_only() -> None:
    kit = CatalogKit()
    tenant_id, owner = kit.tenant_with_member()
    with pytest.raises(Unauthenticated):  # a person's token is the wrong kind here
        await kit.billing.get_subscription(owner, tenant_id)
    with pytest.raises(NotFound):
        await kit.billing.get_subscription(INTERNAL, "no-such-tenant")


async def test_plans_are_created_read_updated_and_deleted() -> None:
    kit = CatalogKit()
    tenant_id, _ = kit.tenant_with_member()
    configs = [
        UsageConfigInput("usage_credit", 9_000_000_000),
        UsageConfigInput("USAGE_AI_AGENT", -1),
    ]

    created = await kit.billing.create_plan(
        PlanTermsCommand(INTERNAL, tenant_id, "Custom deal", configs, 7)
    )
    assert created.credits_per_period == 9_000_000_000
    assert (await kit.billing.get_plan(INTERNAL, tenant_id)).credit_extension_days == 7
    with pytest.raises(AlreadyExists):
        await kit.billing.create_plan(PlanTermsCommand(INTERNAL, tenant_id, "again", configs))

    updated = await kit.billing.update_plan(PlanTermsCommand(INTERNAL, tenant_id, "New", [], 0))
    assert (updated.description, updated.usage_configs) == ("New", [])

    await kit.billing.delete_plan(INTERNAL, tenant_id)
    with pytest.raises(NotFound):
        await kit.billing.get_plan(INTERNAL, tenant_id)


@pytest.mark.parametrize(
    ("name", "configs", "extension"),
    [
        ("CUSTOM", [], 0),
        ("no-such-tenant", [], 0),
        ("PRO", [UsageConfigInput("USAGE_NOTHING", 1)], 0),
        ("PRO", [UsageConfigInput("USAGE_CREDIT", -2)], 0),
        ("PRO", [], -1),
    ],
)
async def test_bad_plans_are_invalid_arguments(
    name: str, configs: list[UsageConfigInput], extension: int
) -> None:
    kit = CatalogKit()
    kit.store.catalog.plans.pop("PRO")
    with pytest.raises(InvalidArgument):
        await kit.billing.create_plan(PlanTermsCommand(INTERNAL, name, "", configs, extension))


async def test_a_plan_in_use_cannot_be_deleted() -> None:
    kit = CatalogKit()
    tenant_id, _ = kit.tenant_with_member()
    await kit.billing.get_subscription(INTERNAL, tenant_id)  # materializes the trial

    custom = await kit.billing.create_plan(PlanTermsCommand(INTERNAL, tenant_id, "deal"))
    kit.store.catalog.subscriptions[tenant_id].plan = Plan.CUSTOM

    with pytest.raises(FailedPrecondition):
        await kit.billing.delete_plan(INTERNAL, custom.plan_name)
    await kit.billing.delete_plan(INTERNAL, "BUSINESS")


@pytest.mark.parametrize("name", ["NEW_USER_TRIAL", "FREE"])
async def test_the_plans_new_tenants_land_on_are_never_deleted(name: str) -> None:
    kit = CatalogKit()
    with pytest.raises(FailedPrecondition):
        await kit.billing.delete_plan(INTERNAL, name)


async def test_usage_is_readable_by_members_and_usage_keys_of_that_tenant_only() -> None:
    kit = CatalogKit()
    tenant_id, member = kit.tenant_with_member()
    other_id, stranger = kit.tenant_with_member()
    key = Caller.api_key(tenant_id, "key-1", frozenset({Scope.USAGE_READ}))
    chat_key = Caller.api_key(tenant_id, "key-2", frozenset({Scope.CHAT_WRITE}))

    assert len(await kit.billing.current_usage(member, tenant_id)) == 4
    assert len(await kit.billing.current_usage(key, tenant_id)) == 4
    for caller, target in [(stranger, tenant_id), (key, other_id), (chat_key, tenant_id)]:
        with pytest.raises(PermissionDenied):
            await kit.billing.current_usage(caller, target)


async def test_agent_credit_usage_counts_settled_credits_of_this_period() -> None:
    kit = CatalogKit()
    tenant_id, member = kit.tenant_with_member()
    ledger = kit.billing.ledger
    await ledger.reserve(tenant_id, 5, "m-1", "agent-a", kit.now)
    await ledger.settle("m-1", 3, kit.now)
    await ledger.reserve(tenant_id, 4, "m-2", "agent-b", kit.now)  # not settled yet

    listed = await kit.billing.agent_credits.list(AgentCreditsQuery(member, tenant_id))
    assert listed == {"agent-a": 3}
    picked = await kit.billing.agent_credits.list(
        AgentCreditsQuery(member, tenant_id, ["agent-a", "agent-b"])
    )
    assert picked == {"agent-a": 3, "agent-b": 0}
    assert await kit.billing.agent_credits.get(member, tenant_id, "agent-a") == 3


async def test_operators_add_and_take_credits_never_below_zero() -> None:
    kit = CatalogKit()
    tenant_id, _ = kit.tenant_with_member()

    add = AdjustCreditsCommand(INTERNAL, tenant_id, 50, "goodwill", rfc3339(kit, 60), "k1")
    assert await kit.billing.adjust_credits(add) == 250
    assert await kit.billing.adjust_credits(add) == 250  # replayed key
    take = AdjustCreditsCommand(INTERNAL, tenant_id, -240, "correction", key="k2")
    assert await kit.billing.adjust_credits(take) == 10
    with pytest.raises(FailedPrecondition):
        await kit.billing.adjust_credits(AdjustCreditsCommand(INTERNAL, tenant_id, -11, ""))


async def test_the_plan_limit_refuses_at_the_limit_and_unlimited_never() -> None:
    kit = CatalogKit()
    tenant_id, _ = kit.tenant_with_member()
    policy = BillingPolicy(trial_days=TRIAL_DAYS)
    agents = UsageCategory.USAGE_AI_AGENT
    async with kit.uow() as uow:
        await check_plan_limit(uow, tenant_id, agents, 2, kit.now, policy)
        with pytest.raises(FailedPrecondition):
            await check_plan_limit(uow, tenant_id, agents, 3, kit.now, policy)
        await check_plan_limit(uow, tenant_id, UsageCategory.USAGE_AGENT_KB, 10**6, kit.now, policy)


async def test_variants_filter_by_plan_and_period_with_free_by_default() -> None:
    kit = CatalogKit()
    _, member = kit.tenant_with_member()
    variants = kit.billing.variants

    assert [v.offer.plan for v in await variants.list(ListVariantsQuery(member))] == [Plan.FREE]
    pro = await variants.list(ListVariantsQuery(member, plan="PRO"))
    assert {v.offer.period for v in pro} == {Period.MONTHLY, Period.YEARLY}
    yearly = await variants.list(ListVariantsQuery(member, period="YEARLY", plan="PRO"))
    assert [v.offer.id for v in yearly] == ["pro-yearly"]
    assert yearly[0].usage_configs  # taken from the plan catalog
    assert (await variants.get(member, "pro-yearly")).offer.amount > 0
    with pytest.raises(NotFound):
        await variants.get(member, "nope")
    with pytest.raises(InvalidArgument):
        await variants.list(ListVariantsQuery(member, period="WEEKLY"))
    assert await kit.billing.list_addons(member)


async def test_tenant_views_report_the_trial_then_free() -> None:
    kit = TenancyKit()
    _, caller = await kit.sign_up("ann@example.com")
    assert (await kit.use.current_tenant(caller)).plan == "NEW_USER_TRIAL"

    kit.clock.advance(days=kit.policy.trial_days)

    assert (await kit.use.current_tenant(caller)).plan == "FREE"
    page = await kit.use.list_tenants(ListTenantsCommand(caller))
    assert [t.plan for t in page.tenants] == ["FREE"]


async def test_seeding_adds_only_the_missing_default_plans() -> None:
    kit = CatalogKit()
    kit.store.catalog.plans.pop("PRO")
    kit.store.catalog.plans["FREE"].description = "Operator's wording"

    assert await kit.billing.seed_default_plans() == ["PRO"]
    assert await kit.billing.seed_default_plans() == []
    assert kit.store.catalog.plans["FREE"].description == "Operator's wording"
