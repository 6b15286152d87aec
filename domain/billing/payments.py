"""What a payment provider tells us, as changes to apply: one vocabulary for every provider.

The Stripe adapter derives these from webhooks (re-reading the objects they name), the local
adapter from its own checkout page; everything after them (the subscription row, grants,
refunds) is one code path, so both providers behave the same.

Each change is idempotent and independent of the order it arrives in:
- `SubscriptionState` is the provider's whole current view of the subscription, read when
  the change is applied, never an increment; applying an older one after a newer one is
  harmless because the adapter re-reads instead of trusting the event.
- `PeriodPaid` can only move "paid through" later.
- `AddonsPaid` grants under a key of its purchase, so a replay finds the grant in place;
  `AddonsRefunded` takes back what is still unused of that grant, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.billing.plans import Period, Plan, SubscriptionStatus
from domain.billing.subscriptions import ScheduledChange, Subscription


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    """The provider's subscription as it is now. `ended_at` set: it is over (→ FREE)."""

    tenant_id: str
    provider: str
    customer_ref: str
    subscription_ref: str
    plan: Plan
    period: Period
    status: SubscriptionStatus
    anchor: datetime  # the billing cycle anchor: credit months count from it
    paid_through: datetime  # the end of the current paid period
    scheduled: ScheduledChange | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PeriodPaid:
    """An invoice of the subscription was paid, for the period ending `period_end`."""

    tenant_id: str
    subscription_ref: str
    invoice_ref: str
    period_end: datetime


@dataclass(frozen=True, slots=True)
class AddonsPaid:
    """A one-off purchase of credit packs was paid; `purchase_ref` names it at the provider."""

    tenant_id: str
    purchase_ref: str
    credits: int
    paid_at: datetime


@dataclass(frozen=True, slots=True)
class AddonsRefunded:
    tenant_id: str
    purchase_ref: str


BillingChange = SubscriptionState | PeriodPaid | AddonsPaid | AddonsRefunded


def apply_provider_state(subscription: Subscription, state: SubscriptionState) -> None:
    """Make the row say what the provider says.

    A subscription another one replaced (an older `subscription_ref` ending) changes
    nothing: a tenant has one paid subscription at a time, and the newest one wins.
    """
    if state.ended_at is not None:
        if subscription.subscription_ref in ("", state.subscription_ref):
            if subscription.subscription_ref == state.subscription_ref:
                subscription.fall_to_free(state.ended_at)
            subscription.customer_ref = state.customer_ref or subscription.customer_ref
        return
    subscription.plan = state.plan
    subscription.period = state.period
    subscription.status = state.status
    subscription.start_at = state.anchor
    subscription.end_at = state.paid_through
    subscription.trial = False
    subscription.provider = state.provider
    subscription.customer_ref = state.customer_ref
    subscription.subscription_ref = state.subscription_ref
    subscription.scheduled = state.scheduled


def current_state(
    subscription: Subscription, scheduled: ScheduledChange | None
) -> SubscriptionState:
    """The row as a provider state with another scheduled change (a cancellation)."""
    assert subscription.end_at is not None, "only a paid subscription has a state"
    return SubscriptionState(
        tenant_id=subscription.tenant_id,
        provider=subscription.provider,
        customer_ref=subscription.customer_ref,
        subscription_ref=subscription.subscription_ref,
        plan=subscription.plan,
        period=subscription.period,
        status=subscription.status,
        anchor=subscription.start_at,
        paid_through=subscription.end_at,
        scheduled=scheduled,
    )


def extend_paid_through(subscription: Subscription, paid: PeriodPaid) -> bool:
    """Move `end_at` to the paid period's end if that is later; True when it moved."""
    if subscription.subscription_ref != paid.subscription_ref:
        return False
    if subscription.end_at is not None and subscription.end_at >= paid.period_end:
        return False
    subscription.end_at = paid.period_end
    return True


def addon_grant_key(purchase_ref: str) -> str:
    return f"addon:{purchase_ref}"


class CheckoutKind(StrEnum):
    SUBSCRIPTION = "subscription"  # buy a plan
    ADDONS = "addons"  # buy credit packs once
    PORTAL = "portal"  # the local billing portal: change plan, cancel


class CheckoutStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class CheckoutLine:
    offer_id: str  # a variant id or an add-on id
    name: str
    quantity: int
    amount: int  # per unit, minor units
    credits: int  # per unit (a plan: per month)


@dataclass(slots=True)
class LocalCheckout:
    """A payment page of the local provider: what is bought, open until paid or canceled.

    The id is the page's secret (it is the URL), as a provider's session URL is.
    """

    id: str
    tenant_id: str
    kind: CheckoutKind
    lines: list[CheckoutLine]
    currency: str
    status: CheckoutStatus
    created_at: datetime
    expires_at: datetime

    @property
    def amount(self) -> int:
        return sum(line.amount * line.quantity for line in self.lines)

    @property
    def credits(self) -> int:
        return sum(line.credits * line.quantity for line in self.lines)

    def is_open(self, now: datetime) -> bool:
        return self.status is CheckoutStatus.OPEN and now < self.expires_at


class EventStatus(StrEnum):
    RECEIVED = "received"  # stored, not applied yet (a failed apply is retried)
    APPLIED = "applied"
    PARKED = "parked"  # failed too often: kept for an operator, never blocks the others


@dataclass(slots=True)
class PaymentEvent:
    """A provider's event as received, stored before anything is applied (unique on id)."""

    id: str  # "<provider>:<the provider's event id>"
    provider: str
    type: str
    payload: dict[str, Any]
    status: EventStatus
    attempts: int
    last_error: str
    received_at: datetime
    next_attempt_at: datetime
    applied_at: datetime | None = None

    @classmethod
    def received(
        cls, provider: str, provider_id: str, type_: str, payload: dict[str, Any], now: datetime
    ) -> PaymentEvent:
        return cls(
            id=f"{provider}:{provider_id}",
            provider=provider,
            type=type_,
            payload=payload,
            status=EventStatus.RECEIVED,
            attempts=0,
            last_error="",
            received_at=now,
            next_attempt_at=now,
        )
