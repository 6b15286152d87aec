"""Subscription rules in the domain: trial end, period windows and trial extension."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.billing.plans import (
    Period,
    Plan,
    SubscriptionPlan,
    UsageCategory,
    validate_plan_name,
)
from domain.billing.subscriptions import Subscription, add_months, period_containing
from domain.errors import FailedPrecondition, InvalidArgument

START = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def trial() -> Subscription:
    return Subscription.new_trial("tenant-1", START, 14)


def test_a_trial_ends_after_its_days_and_the_tenant_falls_to_free_monthly() -> None:
    subscription = trial()
    assert not subscription.roll(START + timedelta(days=14) - timedelta(seconds=1))
    assert subscription.plan is Plan.NEW_USER_TRIAL

    assert subscription.roll(START + timedelta(days=14))
    assert (subscription.plan, subscription.period) == (Plan.FREE, Period.MONTHLY)
    assert subscription.start_at == START + timedelta(days=14)
    assert subscription.end_at is None
    assert not subscription.trial


def test_months_are_counted_from_the_anchor_and_clamped_to_short_months() -> None:
    assert add_months(START, 1) == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    assert add_months(START, 2) == datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    window = period_containing(START, 1, datetime(2026, 3, 1, tzinfo=UTC))
    assert (window.start, window.end) == (add_months(START, 1), add_months(START, 2))


def test_the_period_boundary_belongs_to_the_next_period() -> None:
    boundary = add_months(START, 5)
    window = period_containing(START, 1, boundary)
    assert window.start == boundary
    assert period_containing(START, 12, boundary).start == START


def test_only_a_running_trial_can_be_extended() -> None:
    subscription = trial()
    new_end = START + timedelta(days=30)
    subscription.extend_trial(new_end, START + timedelta(days=1))
    assert subscription.end_at == new_end

    subscription.roll(new_end)
    with pytest.raises(FailedPrecondition):
        subscription.extend_trial(new_end + timedelta(days=30), new_end + timedelta(days=1))


def test_an_ended_trial_or_a_past_end_cannot_be_set() -> None:
    subscription = trial()
    with pytest.raises(InvalidArgument):
        subscription.extend_trial(START, START + timedelta(days=1))
    with pytest.raises(FailedPrecondition):
        subscription.extend_trial(START + timedelta(days=40), START + timedelta(days=15))


@pytest.mark.parametrize("name", ["FREE", "PRO", "BUSINESS", "NEW_USER_TRIAL", "tenant-1"])
def test_plan_names_are_standard_plans_or_tenant_ids(name: str) -> None:
    validate_plan_name(name)


@pytest.mark.parametrize("name", ["CUSTOM", "", "bad name", "x" * 65])
def test_custom_and_malformed_plan_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidArgument):
        validate_plan_name(name)


def test_a_category_a_plan_does_not_list_allows_nothing() -> None:
    plan = SubscriptionPlan("FREE", "", [], 0, START, START)
    assert plan.limit(UsageCategory.USAGE_AI_AGENT) == 0
