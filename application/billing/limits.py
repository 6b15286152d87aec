"""The plan-limit check other use cases call before creating counted things (e.g. agents)."""

from __future__ import annotations

from datetime import datetime

from application.billing.plans import plan_for
from application.billing.subscriptions import BillingPolicy, load_subscription
from application.common.ports import UnitOfWork
from domain.billing.plans import UNLIMITED, UsageCategory
from domain.errors import FailedPrecondition


async def check_plan_limit(
    uow: UnitOfWork,
    tenant_id: str,
    category: UsageCategory,
    current_count: int,
    now: datetime,
    policy: BillingPolicy,
) -> None:
    """Refuse (`FailedPrecondition`, code 9) adding one more when `current_count` already
    reaches the plan's limit for `category`; -1 is unlimited.

    Runs inside the caller's unit of work (it may store the tenant's subscription row; the
    caller commits). Count under the same transaction to avoid racing past the limit.
    """
    subscription = await load_subscription(uow, tenant_id, now, policy)
    plan = await plan_for(uow, subscription.plan_name)
    limit = plan.limit(category)
    if limit != UNLIMITED and current_count >= limit:
        raise FailedPrecondition(
            f"plan limit reached: {subscription.plan_name} allows {limit} for {category.value}"
        )
