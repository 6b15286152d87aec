"""The local provider's subscriptions change when a paid period ends, lazily on read: they
renew, take a scheduled downgrade, or fall back to FREE when canceled; Stripe's never do
(Stripe says so by webhook)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from application.billing.subscriptions import due_grant_specs, period_grant_key
from domain.billing.plans import Period, Plan, SubscriptionStatus, default_plans
from domain.billing.subscriptions import ScheduledChange, Subscription, add_months

pytestmark = pytest.mark.unit

PAID_AT = datetime(2026, 10, 2, 9, tzinfo=UTC)
PLANS = {plan.plan_name: plan for plan in default_plans(PAID_AT)}


def paying(provider: str = "local", scheduled: ScheduledChange | None = None) -> Subscription:
    return Subscription(
        "tenant-1",
        Plan.PRO,
        Period.MONTHLY,
        SubscriptionStatus.SUB_ACTIVE,
        start_at=PAID_AT,
        end_at=add_months(PAID_AT, 1),
        trial=False,
        provider=provider,
        customer_ref="cus",
        subscription_ref="sub",
        scheduled=scheduled,
    )


def test_a_local_subscription_renews_for_each_period_that_ended() -> None:
    subscription = paying()
    later = add_months(PAID_AT, 2) + timedelta(days=3)
    assert subscription.roll(later) is True
    assert (subscription.plan, subscription.end_at) == (Plan.PRO, add_months(PAID_AT, 3))
    assert subscription.start_at == PAID_AT  # the billing anchor stays
    assert subscription.roll(later) is False


def test_a_scheduled_downgrade_starts_when_the_period_ends() -> None:
    subscription = paying(scheduled=ScheduledChange(Plan.PRO, Period.YEARLY))
    subscription.plan = Plan.BUSINESS
    end = add_months(PAID_AT, 1)
    assert subscription.roll(end - timedelta(seconds=1)) is False
    assert subscription.roll(end) is True
    assert (subscription.plan, subscription.period, subscription.scheduled) == (
        Plan.PRO,
        Period.YEARLY,
        None,
    )
    assert (subscription.start_at, subscription.end_at) == (end, add_months(end, 12))


def test_a_canceled_subscription_falls_to_free_when_the_period_ends() -> None:
    subscription = paying(scheduled=ScheduledChange(None))
    end = add_months(PAID_AT, 1)
    assert subscription.roll(end + timedelta(hours=1)) is True
    assert (subscription.plan, subscription.start_at, subscription.end_at) == (
        Plan.FREE,
        end,
        None,
    )
    assert (subscription.subscription_ref, subscription.is_paying) == ("", False)
    assert subscription.customer_ref == "cus"  # the customer is kept for a later purchase


def test_a_stripe_subscription_past_its_period_waits_and_earns_no_new_month() -> None:
    subscription = paying(provider="stripe")
    late = add_months(PAID_AT, 1) + timedelta(days=2)
    assert subscription.roll(late) is False
    assert due_grant_specs(subscription, PLANS["PRO"], late) == []  # not paid for yet
    paid_month = due_grant_specs(subscription, PLANS["PRO"], PAID_AT + timedelta(days=3))
    assert [spec.grant_key for spec in paid_month] == [period_grant_key(PAID_AT)]
