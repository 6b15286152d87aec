"""ORM records of subscription plans and tenants' subscriptions, with domain mappers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Row, String, false
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from adapters.sql.base import Base
from domain.billing.plans import (
    Period,
    Plan,
    SubscriptionPlan,
    SubscriptionStatus,
    UsageCategory,
    UsageConfig,
)
from domain.billing.subscriptions import ScheduledChange, Subscription

_PLANS = ", ".join(f"'{plan.value}'" for plan in Plan)
_PERIODS = ", ".join(f"'{period.value}'" for period in Period)
_STATUSES = ", ".join(f"'{status.value}'" for status in SubscriptionStatus)


class SubscriptionPlanRecord(Base):
    __tablename__ = "subscription_plans"

    # A Plan name, or a tenant id for a CUSTOM plan.
    plan_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(String(1000))
    # [{"category": "USAGE_CREDIT", "total_amount": 100}, …]; migration 0003 seeds this shape.
    usage_configs: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql")
    )
    credit_extension_days: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SubscriptionRecord(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint(f"plan IN ({_PLANS})", name="plan"),
        CheckConstraint(f"period IN ({_PERIODS})", name="period"),
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
    )

    # The primary key makes "one subscription per tenant" a database rule.
    tenant_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    # Indexed for "is any tenant on this plan?" before a plan is deleted.
    plan: Mapped[str] = mapped_column(String(32), index=True)
    period: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime | None]
    trial: Mapped[bool]
    # Who bills it ("" nobody, "local", "stripe") and the tenant's and subscription's ids there.
    provider: Mapped[str] = mapped_column(String(16), server_default="")
    customer_ref: Mapped[str] = mapped_column(String(255), server_default="")
    subscription_ref: Mapped[str] = mapped_column(String(255), server_default="", index=True)
    # A change due when the paid period ends: a plan (and period), or FREE when the plan is
    # NULL (a cancellation).
    scheduled: Mapped[bool] = mapped_column(server_default=false())
    scheduled_plan: Mapped[str | None] = mapped_column(String(32))
    scheduled_period: Mapped[str | None] = mapped_column(String(16))


def usage_configs_to_json(configs: list[UsageConfig]) -> list[dict[str, Any]]:
    return [
        {"category": config.category.value, "total_amount": config.total_amount}
        for config in configs
    ]


def plan_to_row(plan: SubscriptionPlan) -> dict[str, Any]:
    return {
        "plan_name": plan.plan_name,
        "description": plan.description,
        "usage_configs": usage_configs_to_json(plan.usage_configs),
        "credit_extension_days": plan.credit_extension_days,
        "created_at": plan.created_at,
        "updated_at": plan.updated_at,
    }


def plan_to_domain(record: Row[Any]) -> SubscriptionPlan:
    return SubscriptionPlan(
        plan_name=record.plan_name,
        description=record.description,
        usage_configs=[
            UsageConfig(UsageCategory(item["category"]), int(item["total_amount"]))
            for item in record.usage_configs
        ],
        credit_extension_days=record.credit_extension_days,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def subscription_to_row(subscription: Subscription) -> dict[str, Any]:
    scheduled = subscription.scheduled
    return {
        "tenant_id": subscription.tenant_id,
        "plan": subscription.plan.value,
        "period": subscription.period.value,
        "status": subscription.status.value,
        "start_at": subscription.start_at,
        "end_at": subscription.end_at,
        "trial": subscription.trial,
        "provider": subscription.provider,
        "customer_ref": subscription.customer_ref,
        "subscription_ref": subscription.subscription_ref,
        "scheduled": scheduled is not None,
        "scheduled_plan": scheduled.plan.value if scheduled and scheduled.plan else None,
        "scheduled_period": scheduled.period.value if scheduled and scheduled.period else None,
    }


def subscription_to_domain(record: Row[Any]) -> Subscription:
    return Subscription(
        tenant_id=record.tenant_id,
        plan=Plan(record.plan),
        period=Period(record.period),
        status=SubscriptionStatus(record.status),
        start_at=record.start_at,
        end_at=record.end_at,
        trial=record.trial,
        provider=record.provider,
        customer_ref=record.customer_ref,
        subscription_ref=record.subscription_ref,
        scheduled=ScheduledChange(
            Plan(record.scheduled_plan) if record.scheduled_plan else None,
            Period(record.scheduled_period) if record.scheduled_period else None,
        )
        if record.scheduled
        else None,
    )
