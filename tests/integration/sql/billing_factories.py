"""Plain factories with random ids for the billing repository tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from domain.billing.ledger import Allocation, CreditGrant, GrantSource, Reservation
from domain.billing.plans import SubscriptionPlan, UsageCategory, UsageConfig
from domain.billing.subscriptions import Subscription
from tests.integration.sql.factories import new_id, utc_now


def make_grant(tenant_id: str, **overrides: Any) -> CreditGrant:
    now = utc_now()
    amount = overrides.pop("amount", 100)
    values: dict[str, Any] = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "source": GrantSource.PERIOD,
        "amount": amount,
        "remaining": amount,
        "starts_at": now - timedelta(days=1),
        "expires_at": now + timedelta(days=30),
        "grant_key": f"period:{new_id()}",
        "created_at": now,
    }
    return CreditGrant(**(values | overrides))


def make_reservation(tenant_id: str, grant_id: str, **overrides: Any) -> Reservation:
    amount = overrides.pop("amount", 5)
    values: dict[str, Any] = {
        "key": f"msg-{new_id()}",
        "tenant_id": tenant_id,
        "agent_id": new_id(),
        "amount": amount,
        "allocations": [Allocation(grant_id, amount)],
        "created_at": utc_now(),
        "expires_at": utc_now() + timedelta(minutes=10),
    }
    return Reservation(**(values | overrides))


def make_plan(**overrides: Any) -> SubscriptionPlan:
    now = utc_now()
    values: dict[str, Any] = {
        "plan_name": new_id(),
        "description": "A tenant's own terms",
        "usage_configs": [
            UsageConfig(UsageCategory.USAGE_CREDIT, 1_000),
            UsageConfig(UsageCategory.USAGE_AI_AGENT, -1),
        ],
        "credit_extension_days": 7,
        "created_at": now,
        "updated_at": now,
    }
    return SubscriptionPlan(**(values | overrides))


def make_trial(tenant_id: str, start_at: datetime | None = None) -> Subscription:
    return Subscription.new_trial(tenant_id, start_at or utc_now(), trial_days=14)
