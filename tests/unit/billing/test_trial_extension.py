"""Extending a trial moves its credit grant's expiry with it."""

from __future__ import annotations

from datetime import timedelta

from application.billing.plans import PlanTermsCommand, UsageConfigInput
from application.billing.subscriptions import ChangeSubscriptionCommand, trial_grant_key
from tests.unit.billing.catalog_kit import INTERNAL, TRIAL_DAYS, CatalogKit


async def extend(kit: CatalogKit, tenant_id: str, days: float) -> None:
    new_end = (kit.now + timedelta(days=days)).isoformat()
    await kit.billing.change_subscription(ChangeSubscriptionCommand(INTERNAL, tenant_id, new_end))


async def test_trial_credits_stay_usable_until_the_extended_end() -> None:
    kit = CatalogKit()
    tenant_id, _ = kit.tenant_with_member()
    await kit.billing.ledger.reserve(tenant_id, 50, "msg-1", "agent-1", kit.now)
    await kit.billing.ledger.settle("msg-1", 50, kit.now)

    await extend(kit, tenant_id, 30)
    kit.clock.advance(days=TRIAL_DAYS + 1)  # past the original end, before the new one

    assert await kit.billing.ledger.balance(tenant_id, kit.now) == 150
    await kit.billing.ledger.reserve(tenant_id, 150, "msg-2", "agent-1", kit.now)
    kit.clock.advance(days=30 - TRIAL_DAYS - 1)
    grant = kit.store.ledger.grants["grant-1"]
    assert grant.grant_key == trial_grant_key(tenant_id)
    assert grant.expires_at == kit.now


async def test_the_trial_grant_keeps_the_plans_extension_days_after_the_new_end() -> None:
    kit = CatalogKit()
    tenant_id, _ = kit.tenant_with_member()
    configs = [UsageConfigInput("USAGE_CREDIT", 200), UsageConfigInput("USAGE_AI_AGENT", 3)]
    await kit.billing.update_plan(PlanTermsCommand(INTERNAL, "NEW_USER_TRIAL", "Trial", configs, 5))
    assert await kit.billing.ledger.balance(tenant_id, kit.now) == 200
    start = kit.now

    await extend(kit, tenant_id, 20)

    grants = list(kit.store.ledger.grants.values())
    assert [g.expires_at for g in grants] == [start + timedelta(days=25)]
    kit.clock.advance(days=24)
    assert await kit.billing.ledger.balance(tenant_id, kit.now) >= 200


async def test_extending_before_any_credits_were_granted_grants_them_with_the_new_end() -> None:
    kit = CatalogKit()
    tenant_id, _ = kit.tenant_with_member()
    await kit.billing.get_subscription(INTERNAL, tenant_id)

    await extend(kit, tenant_id, 30)

    assert await kit.billing.ledger.balance(tenant_id, kit.now) == 200
    (grant,) = kit.store.ledger.grants.values()
    assert grant.expires_at == kit.now + timedelta(days=30)
