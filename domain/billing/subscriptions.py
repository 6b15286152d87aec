"""A tenant's subscription: the plan it is on, its trial, and the billing period at a moment."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.billing.plans import Period, Plan, SubscriptionStatus
from domain.errors import FailedPrecondition, InvalidArgument


@dataclass(frozen=True, slots=True)
class PeriodWindow:
    """[start, end) of one billing period; credits granted for it are keyed by its start."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class ScheduledChange:
    """What happens when the paid period ends: another plan, or back to FREE (`plan` None)."""

    plan: Plan | None
    period: Period | None = None


@dataclass(slots=True)
class Subscription:
    """One row per tenant.

    A trial runs from `start_at` to `end_at`; once it ends the tenant is on FREE, billed in
    MONTHLY periods counted from the trial's end (`start_at` becomes that moment and `end_at`
    is None: an open-ended subscription). Paid plans also count periods from `start_at` (the
    billing anchor) and are paid through `end_at`: no credits are granted for a month that
    starts after it until the provider reports the next period paid.

    `provider` is who bills it ("" for nobody: trial and FREE), `customer_ref` the tenant
    at that provider (kept when the subscription ends) and `subscription_ref` the
    provider's subscription. `scheduled` is the change due at `end_at` (a downgrade or a
    cancellation), shown to the owner until it happens.
    """

    tenant_id: str
    plan: Plan
    period: Period
    status: SubscriptionStatus
    start_at: datetime
    end_at: datetime | None
    trial: bool
    provider: str = ""
    customer_ref: str = ""
    subscription_ref: str = ""
    scheduled: ScheduledChange | None = None

    @property
    def is_paying(self) -> bool:
        """Billed by a provider and not disabled: buying again must go through a change."""
        return bool(self.subscription_ref) and self.status is SubscriptionStatus.SUB_ACTIVE

    @classmethod
    def new_trial(
        cls, tenant_id: str, start_at: datetime, trial_days: int, plan: Plan = Plan.NEW_USER_TRIAL
    ) -> Subscription:
        return cls(
            tenant_id=tenant_id,
            plan=plan,
            period=Period.NOT_DEFINE,
            status=SubscriptionStatus.SUB_ACTIVE,
            start_at=start_at,
            end_at=start_at + timedelta(days=trial_days),
            trial=True,
        )

    @property
    def plan_name(self) -> str:
        """The catalog row this subscription uses: CUSTOM plans are named by the tenant id."""
        return self.tenant_id if self.plan is Plan.CUSTOM else self.plan.value

    def trial_over(self, now: datetime) -> bool:
        return self.trial and self.end_at is not None and now >= self.end_at

    def roll(self, now: datetime) -> bool:
        """Apply what time changed (an ended trial falls to FREE); True when something did.

        Paid subscriptions change only when their provider says so (`apply_provider_state`),
        except that the local provider renews, downgrades and cancels here, lazily, when a
        paid period is over: it has no one else to tell it.
        """
        if self.trial_over(now):
            assert self.end_at is not None  # a trial always has an end
            self.fall_to_free(self.end_at)
            return True
        if self.provider != LOCAL_PROVIDER or self.end_at is None or now < self.end_at:
            return False
        while self.end_at is not None and self.end_at <= now:
            self._renew_locally()
        return True

    def _renew_locally(self) -> None:
        assert self.end_at is not None
        change, self.scheduled = self.scheduled, None
        if change is not None:
            if change.plan is None:
                self.fall_to_free(self.end_at)
                return
            self.plan = change.plan
            self.period = change.period or self.period
            self.start_at = self.end_at  # a new billing anchor: the new plan's first month
        self.end_at = add_months(self.end_at, period_months(self.period))

    def fall_to_free(self, at: datetime) -> None:
        """Back to FREE from `at` (a trial or a paid subscription ended); the customer stays."""
        self.plan = Plan.FREE
        self.period = Period.MONTHLY
        self.status = SubscriptionStatus.SUB_ACTIVE
        self.start_at = at
        self.end_at = None
        self.trial = False
        self.provider = ""
        self.subscription_ref = ""
        self.scheduled = None

    def is_paid_for(self, window: PeriodWindow) -> bool:
        """Whether plan credits are owed for `window`: always on FREE and trials; on a paid
        plan only while active and paid through the window's start."""
        if not self.subscription_ref:
            return True
        if self.status is not SubscriptionStatus.SUB_ACTIVE:
            return False
        return self.end_at is not None and window.start < self.end_at

    def extend_trial(self, new_end: datetime, now: datetime) -> None:
        """Move a running trial's end; anything else cannot be changed this way."""
        if not self.trial or self.trial_over(now):
            raise FailedPrecondition("only a running trial's end can be changed")
        if new_end <= now:
            raise InvalidArgument("new_end_at", "must be in the future")
        self.end_at = new_end

    def credit_period(self, now: datetime) -> PeriodWindow:
        """The window plan credits are granted for: the trial, else each month from `start_at`.

        Yearly subscriptions still receive their credits month by month.
        """
        if self.trial:
            return self.current_period(now)
        return period_containing(self.start_at, 1, now)

    def current_period(self, now: datetime) -> PeriodWindow:
        """The period containing `now` (call `roll` first so an ended trial is FREE)."""
        if self.trial or self.period is Period.NOT_DEFINE:
            end = self.end_at or add_months(self.start_at, 1)
            return PeriodWindow(self.start_at, end)
        return period_containing(self.start_at, period_months(self.period), now)


LOCAL_PROVIDER = "local"


def period_months(period: Period) -> int:
    return 12 if period is Period.YEARLY else 1


def add_months(moment: datetime, months: int) -> datetime:
    """Same day and time `months` later, clamped to the month's last day (Jan 31 → Feb 28)."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def period_containing(anchor: datetime, step_months: int, now: datetime) -> PeriodWindow:
    """The [start, end) of `step_months`-long periods counted from `anchor` that holds `now`."""
    if now < anchor:
        return PeriodWindow(anchor, add_months(anchor, step_months))
    elapsed = (now.year - anchor.year) * 12 + now.month - anchor.month
    count = max(elapsed // step_months, 0)
    # The month estimate can be one period late when the anchor's day/time is later in the month.
    while count > 0 and add_months(anchor, count * step_months) > now:
        count -= 1
    while add_months(anchor, (count + 1) * step_months) <= now:
        count += 1
    start = add_months(anchor, count * step_months)
    return PeriodWindow(start, add_months(anchor, (count + 1) * step_months))
