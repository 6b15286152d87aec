"""Tenants' subscriptions: lazy materialization, due grants, and the operator's view and change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from application.billing.ledger_ports import PeriodicGrantSchedule
from application.billing.plans import plan_for, require_internal
from application.common.caller import Caller
from application.common.ports import Clock, UnitOfWork, UnitOfWorkFactory
from application.tenancy.api_keys import parse_expiry
from domain.billing.ledger import GrantSource, GrantSpec
from domain.billing.plans import Plan, SubscriptionPlan
from domain.billing.subscriptions import Subscription
from domain.errors import AlreadyExists, InvalidArgument, NotFound
from domain.tenancy.models import Tenant


@dataclass(frozen=True, slots=True)
class BillingPolicy:
    """Billing tunables from settings (`ASTRA_TRIAL_DAYS`)."""

    trial_days: int = 14


async def load_subscription(
    uow: UnitOfWork, tenant_id: str, now: datetime, policy: BillingPolicy
) -> Subscription:
    """The tenant's subscription at `now`, written inside `uow` when it had to change.

    A tenant without a row gets its trial (from the tenant's creation) stored once: the row is
    unique per tenant, so a concurrent writer's row wins and is read back. An ended trial is
    moved to FREE here. The caller commits. Unknown tenant → `NotFound`.
    """
    subscription = await uow.subscriptions.get_for_tenant(tenant_id)
    if subscription is None:
        tenant = await uow.tenants.get(tenant_id)
        if tenant is None:
            raise NotFound("tenant not found")
        subscription = Subscription.new_trial(tenant_id, tenant.created_at, policy.trial_days)
        try:
            await uow.subscriptions.add(subscription)
        except AlreadyExists:
            stored = await uow.subscriptions.get_for_tenant(tenant_id)
            if stored is None:  # pragma: no cover - the unique row exists by definition
                raise
            subscription = stored
    if subscription.roll(now):
        await uow.subscriptions.update(subscription)
    return subscription


async def plan_at(uow: UnitOfWork, tenant: Tenant, now: datetime, trial_days: int) -> Plan:
    """The plan a tenant is on at `now`, read only (nothing is stored; see `load_subscription`)."""
    subscription = await uow.subscriptions.get_for_tenant(tenant.id)
    if subscription is None:
        subscription = Subscription.new_trial(tenant.id, tenant.created_at, trial_days)
    subscription.roll(now)
    return subscription.plan


def trial_grant_key(tenant_id: str) -> str:
    return f"trial:{tenant_id}"


def period_grant_key(period_start: datetime) -> str:
    """One grant per credit month, whatever the plan: an upgrade tops it up to the new
    plan's credits instead of granting the month again (migration 0007 moved older keys,
    which named the plan, to this form)."""
    return f"period:{period_start.isoformat()}"


def due_grant_specs(
    subscription: Subscription, plan: SubscriptionPlan, now: datetime
) -> list[GrantSpec]:
    """The grant for the credit period holding `now`: the trial's, or this month's plan credits.

    Credits stay usable `credit_extension_days` after their period ends. A paid plan owes a
    month's credits only once the provider has reported it paid (`is_paid_for`).
    """
    credits = plan.credits_per_period
    window = subscription.credit_period(now)
    expires_at = window.end + timedelta(days=plan.credit_extension_days)
    if credits <= 0 or expires_at <= window.start or not subscription.is_paid_for(window):
        return []
    if subscription.trial:
        key = trial_grant_key(subscription.tenant_id)
        return [GrantSpec(GrantSource.TRIAL, credits, window.start, expires_at, key)]
    key = period_grant_key(window.start)
    return [GrantSpec(GrantSource.PERIOD, credits, window.start, expires_at, key)]


class PlanGrantSchedule(PeriodicGrantSchedule):
    """What the ledger asks before reserving or reading: the tenant's due plan credits."""

    def __init__(self, policy: BillingPolicy) -> None:
        self._policy = policy

    async def due_grants(self, uow: UnitOfWork, tenant_id: str, now: datetime) -> list[GrantSpec]:
        return (await self.due_grants_until(uow, tenant_id, now))[0]

    async def due_grants_until(
        self, uow: UnitOfWork, tenant_id: str, now: datetime
    ) -> tuple[list[GrantSpec], datetime]:
        subscription = await load_subscription(uow, tenant_id, now, self._policy)
        plan = await plan_for(uow, subscription.plan_name)
        specs = due_grant_specs(subscription, plan, now)
        return specs, subscription.credit_period(now).end


@dataclass(frozen=True, slots=True)
class ChangeSubscriptionCommand:
    caller: Caller
    tenant_id: str
    new_end_at: str  # RFC 3339


class AdminGetTenantSubscription:
    """Any tenant's subscription, for operators (internal only)."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, policy: BillingPolicy) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._policy = policy

    async def __call__(self, caller: Caller, tenant_id: str) -> Subscription:
        require_internal(caller)
        async with self._uow() as uow:
            subscription = await load_subscription(uow, tenant_id, self._clock.now(), self._policy)
            await uow.commit()
        return subscription


class AdminChangeTenantSubscription:
    """Move a running trial's end (internal only).

    - Not on a running trial → `FailedPrecondition`; `new_end_at` not in the future →
      `InvalidArgument`; unknown tenant → `NotFound`.
    - The trial's credit grant, if already made, expires with the new end (plus the plan's
      credit extension days, as when it was granted), in the same unit of work.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, policy: BillingPolicy) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._policy = policy

    async def __call__(self, command: ChangeSubscriptionCommand) -> Subscription:
        require_internal(command.caller)
        now = self._clock.now()
        new_end = parse_expiry(command.new_end_at, now, "new_end_at")
        if new_end is None:
            raise InvalidArgument("new_end_at", "is required")
        async with self._uow() as uow:
            subscription = await load_subscription(uow, command.tenant_id, now, self._policy)
            subscription.extend_trial(new_end, now)
            await uow.subscriptions.update(subscription)
            plan = await plan_for(uow, subscription.plan_name)
            for spec in due_grant_specs(subscription, plan, now):
                await uow.ledger.extend_grant(command.tenant_id, spec.grant_key, spec.expires_at)
            await uow.commit()
        return subscription
