"""HTTP request and response bodies of the billing endpoints (contract §2, §3, §5)."""

from __future__ import annotations

import msgspec

from application.billing.offers import Addon, Variant
from application.billing.plans import UsageConfigInput
from application.billing.usage import UsageLine
from domain.billing.plans import Period, Plan, SubscriptionPlan, UsageConfig
from domain.billing.subscriptions import Subscription
from entrypoints.http.conventions import Int64, i64, timestamp


class UsageConfigBody(msgspec.Struct):
    category: str
    total_amount: str
    used_amount: str
    expiration_time: str

    @classmethod
    def of_limit(cls, config: UsageConfig) -> UsageConfigBody:
        return cls(config.category.value, i64(config.total_amount), i64(0), timestamp(None))

    @classmethod
    def of_line(cls, line: UsageLine) -> UsageConfigBody:
        return cls(
            category=line.category.value,
            total_amount=i64(line.total_amount),
            used_amount=i64(line.used_amount),
            expiration_time=timestamp(line.expiration_time),
        )


class UsageConfigsBody(msgspec.Struct):
    usage_configs: list[UsageConfigBody]


class UsageConfigInputBody(msgspec.Struct):
    category: str = ""
    total_amount: Int64 = Int64(0)
    used_amount: Int64 = Int64(0)  # ignored: plans hold limits, not usage
    expiration_time: str = ""  # ignored


class UsageConfigsInputBody(msgspec.Struct):
    usage_configs: list[UsageConfigInputBody] = []

    def to_inputs(self) -> list[UsageConfigInput]:
        return [UsageConfigInput(c.category, c.total_amount) for c in self.usage_configs]


class PlanBody(msgspec.Struct):
    plan_name: str
    description: str
    config: UsageConfigsBody
    credit_extension: int
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, plan: SubscriptionPlan) -> PlanBody:
        return cls(
            plan_name=plan.plan_name,
            description=plan.description,
            config=UsageConfigsBody([UsageConfigBody.of_limit(c) for c in plan.usage_configs]),
            credit_extension=plan.credit_extension_days,
            created_at=timestamp(plan.created_at),
            updated_at=timestamp(plan.updated_at),
        )


class PlanResponse(msgspec.Struct):
    plan: PlanBody


class CreatePlanRequest(msgspec.Struct):
    plan_name: str = ""
    config: UsageConfigsInputBody | None = None
    description: str = ""
    credit_extension: int = 0


class UpdatePlanRequest(msgspec.Struct):
    config: UsageConfigsInputBody | None = None
    description: str = ""
    credit_extension: int = 0


class SubscriptionBody(msgspec.Struct):
    plan: str
    period: str
    status: str
    start_at: str
    end_at: str
    # (ext) The change due at `end_at`: a plan and period, or FREE for a cancellation; ""
    # when nothing is scheduled.
    scheduled_plan: str = ""
    scheduled_period: str = ""

    @classmethod
    def of(cls, subscription: Subscription) -> SubscriptionBody:
        scheduled = subscription.scheduled
        scheduled_plan = ""
        scheduled_period = ""
        if scheduled is not None:
            scheduled_plan = scheduled.plan.value if scheduled.plan else Plan.FREE.value
            scheduled_period = (scheduled.period or Period.MONTHLY).value
        return cls(
            plan=subscription.plan.value,
            period=subscription.period.value,
            status=subscription.status.value,
            start_at=timestamp(subscription.start_at),
            end_at=timestamp(subscription.end_at),
            scheduled_plan=scheduled_plan,
            scheduled_period=scheduled_period,
        )


class SubscriptionResponse(msgspec.Struct):
    subscription: SubscriptionBody


class ChangeSubscriptionRequest(msgspec.Struct):
    new_end_at: str = ""


class CreateSubscriptionRequest(msgspec.Struct):
    id: str = ""


class UpdateSubscriptionRequest(msgspec.Struct):
    new_id: str = ""


class AddonPurchaseBody(msgspec.Struct):
    id: str = ""
    quantity: int = 0


class AddonsPurchaseRequest(msgspec.Struct):
    purchases: list[AddonPurchaseBody] = msgspec.field(default_factory=list)


class RedirectResponse(msgspec.Struct):
    redirect_url: str


class VariantBody(msgspec.Struct):
    id: str
    plan: str
    period: str
    name: str
    description: str
    amount: str
    currency: str
    credits: str
    trial_days: int
    usage_configs: list[UsageConfigBody]

    @classmethod
    def of(cls, variant: Variant) -> VariantBody:
        offer = variant.offer
        return cls(
            id=offer.id,
            plan=offer.plan.value,
            period=offer.period.value,
            name=offer.name,
            description=offer.description,
            amount=i64(offer.amount),
            currency=offer.currency,
            credits=i64(offer.credits),
            trial_days=offer.trial_days,
            usage_configs=[UsageConfigBody.of_limit(c) for c in variant.usage_configs],
        )


class VariantListResponse(msgspec.Struct):
    variants: list[VariantBody]


class VariantResponse(msgspec.Struct):
    variant: VariantBody


class AddonBody(msgspec.Struct):
    id: str
    name: str
    description: str
    amount: str
    currency: str
    credits: str

    @classmethod
    def of(cls, addon: Addon) -> AddonBody:
        return cls(
            id=addon.id,
            name=addon.name,
            description=addon.description,
            amount=i64(addon.amount),
            currency=addon.currency,
            credits=i64(addon.credits),
        )


class AddonListResponse(msgspec.Struct):
    variants: list[AddonBody]


class AgentCreditsRequest(msgspec.Struct):
    agent_ids: list[str] = []


class AgentCreditsResponse(msgspec.Struct):
    agent_credits: dict[str, str]


class AgentCreditResponse(msgspec.Struct):
    credits: str


class CurrentUsageResponse(msgspec.Struct):
    config: UsageConfigsBody


class AdjustCreditsRequest(msgspec.Struct):
    amount: Int64 = Int64(0)
    reason: str = ""
    expires_at: str = ""


class BalanceResponse(msgspec.Struct):
    balance: str
