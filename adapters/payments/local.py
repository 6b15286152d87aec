"""The local payment provider: checkout and portal pages served by Astra itself.

Nothing is charged. "Paying" a page records an event like a provider's webhook, and that
event is applied through the same path as Stripe's (`application.billing.payments`), so
grants, renewals and status follow one code path. Renewals happen lazily when a paid
period ends (`Subscription.roll`).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from application.billing.offers import Offer, OfferCatalog
from application.billing.payment_ports import AddonLine, PaymentProvider, ReceivedEvent
from application.common.ports import Clock, UnitOfWorkFactory
from domain.billing.payments import (
    AddonsPaid,
    BillingChange,
    CheckoutKind,
    CheckoutLine,
    CheckoutStatus,
    LocalCheckout,
    PaymentEvent,
    SubscriptionState,
)
from domain.billing.plans import SubscriptionStatus
from domain.billing.subscriptions import (
    LOCAL_PROVIDER,
    ScheduledChange,
    Subscription,
    add_months,
    period_months,
)
from domain.errors import NotFound, Unauthenticated

CHECKOUT_LIFETIME = timedelta(hours=24)
CHECKOUT_PATH = "/billing/local/checkout"
PORTAL_PATH = "/billing/local/portal"


def local_subscription_ref(checkout_id: str) -> str:
    return f"local-sub-{checkout_id[:24]}"


class LocalPaymentProvider(PaymentProvider):
    name = LOCAL_PROVIDER

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        catalog: OfferCatalog,
        public_url: str,
        secret: str,
    ) -> None:
        self._uow = uow_factory
        self._offers = {offer.id: offer for offer in catalog.variants}
        self._clock = clock
        self._public_url = public_url.rstrip("/")
        self._secret = secret.encode()

    def _page_id(self, request_key: str) -> str:
        # The id is the page's secret: keyed on ours, so a retried request finds its page and
        # nobody can derive another tenant's from what they know.
        return hmac.new(self._secret, request_key.encode(), hashlib.sha256).hexdigest()[:40]

    async def ensure_customer(self, subscription: Subscription, email: str) -> str:
        return f"local-cus-{subscription.tenant_id}"

    async def _open(
        self,
        subscription: Subscription,
        kind: CheckoutKind,
        lines: list[CheckoutLine],
        currency: str,
        request_key: str,
    ) -> LocalCheckout:
        now = self._clock.now()
        checkout = LocalCheckout(
            id=self._page_id(request_key),
            tenant_id=subscription.tenant_id,
            kind=kind,
            lines=lines,
            currency=currency,
            status=CheckoutStatus.OPEN,
            created_at=now,
            expires_at=now + CHECKOUT_LIFETIME,
        )
        async with self._uow() as uow:
            await uow.payments.add_checkout(checkout)  # a retry finds the page already there
            await uow.commit()
        return checkout

    async def subscription_checkout(
        self, subscription: Subscription, offer: Offer, request_key: str
    ) -> str:
        line = CheckoutLine(offer.id, offer.name, 1, offer.amount, offer.credits)
        checkout = await self._open(
            subscription, CheckoutKind.SUBSCRIPTION, [line], offer.currency, request_key
        )
        return f"{self._public_url}{CHECKOUT_PATH}/{checkout.id}"

    async def addons_checkout(
        self, subscription: Subscription, lines: list[AddonLine], request_key: str
    ) -> str:
        items = [
            CheckoutLine(
                line.addon.id, line.addon.name, line.quantity, line.addon.amount, line.addon.credits
            )
            for line in lines
        ]
        currency = lines[0].addon.currency
        checkout = await self._open(subscription, CheckoutKind.ADDONS, items, currency, request_key)
        return f"{self._public_url}{CHECKOUT_PATH}/{checkout.id}"

    async def portal(self, subscription: Subscription, request_key: str) -> str:
        checkout = await self._open(subscription, CheckoutKind.PORTAL, [], "", request_key)
        return f"{self._public_url}{PORTAL_PATH}/{checkout.id}"

    async def change_plan(
        self, subscription: Subscription, offer: Offer, upgrade: bool, request_key: str
    ) -> SubscriptionState:
        now = self._clock.now()
        paid_through = subscription.end_at or now
        scheduled: ScheduledChange | None = ScheduledChange(offer.plan, offer.period)
        plan, period, anchor = subscription.plan, subscription.period, subscription.start_at
        if upgrade:
            # Now, keeping the month the credits count in; a longer period starts today.
            plan, scheduled = offer.plan, None
            if offer.period is not period:
                period, anchor = offer.period, now
                paid_through = add_months(now, period_months(offer.period))
        return SubscriptionState(
            tenant_id=subscription.tenant_id,
            provider=self.name,
            customer_ref=subscription.customer_ref,
            subscription_ref=subscription.subscription_ref,
            plan=plan,
            period=period,
            status=SubscriptionStatus.SUB_ACTIVE,
            anchor=anchor,
            paid_through=paid_through,
            scheduled=scheduled,
        )

    def verify_event(self, body: bytes, signature: str) -> ReceivedEvent:
        raise Unauthenticated("the local payment provider sends no webhooks")

    async def changes_for(self, event: PaymentEvent) -> list[BillingChange]:
        """A paid local checkout, re-read from its page."""
        checkout_id = str(event.payload.get("checkout_id", ""))
        async with self._uow() as uow:
            checkout = await uow.payments.get_checkout(checkout_id)
            subscription = (
                await uow.subscriptions.get_for_tenant(checkout.tenant_id) if checkout else None
            )
        if checkout is None or checkout.status is not CheckoutStatus.PAID:
            raise NotFound("local checkout not found or not paid")
        paid_at = event.received_at
        if checkout.kind is CheckoutKind.ADDONS:
            return [AddonsPaid(checkout.tenant_id, checkout.id, checkout.credits, paid_at)]
        if checkout.kind is not CheckoutKind.SUBSCRIPTION:
            return []
        offer_line = checkout.lines[0]
        offer = self._offers.get(offer_line.offer_id)
        if offer is None:
            raise NotFound("the checkout's variant is no longer offered")
        return [
            SubscriptionState(
                tenant_id=checkout.tenant_id,
                provider=self.name,
                customer_ref=subscription.customer_ref if subscription else "",
                subscription_ref=local_subscription_ref(checkout.id),
                plan=offer.plan,
                period=offer.period,
                status=SubscriptionStatus.SUB_ACTIVE,
                anchor=paid_at,
                paid_through=add_months(paid_at, period_months(offer.period)),
            )
        ]

    async def current_state(self, subscription: Subscription) -> SubscriptionState | None:
        return None  # the row is the local provider's own record
