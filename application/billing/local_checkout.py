"""The local provider's pages: show a checkout, pay or cancel it; the portal's plan change
and cancellation. The page id is the credential (as a provider's session URL is)."""

from __future__ import annotations

from dataclasses import dataclass

from application.billing.offers import Offer, OfferCatalog
from application.billing.payment_ports import PaymentProvider
from application.billing.payments import (
    PaymentEvents,
    apply_changes,
    buyable_offer,
    is_upgrade,
    request_key,
)
from application.billing.subscriptions import BillingPolicy, load_subscription
from application.common.ports import Clock, IdGenerator, UnitOfWorkFactory
from domain.billing.payments import (
    CheckoutKind,
    CheckoutStatus,
    LocalCheckout,
    PaymentEvent,
    current_state,
)
from domain.billing.subscriptions import ScheduledChange, Subscription
from domain.errors import FailedPrecondition, NotFound

CLOSED = "this page is closed: it was paid, canceled or has expired"


@dataclass(frozen=True, slots=True)
class CheckoutPage:
    checkout: LocalCheckout
    subscription: Subscription
    variants: list[Offer]  # what the portal can change to
    is_open: bool


class LocalCheckoutPages:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        provider: PaymentProvider,
        events: PaymentEvents,
        catalog: OfferCatalog,
        ids: IdGenerator,
        clock: Clock,
        policy: BillingPolicy,
    ) -> None:
        self._uow = uow_factory
        self._provider = provider
        self._events = events
        self._catalog = catalog
        self._ids = ids
        self._clock = clock
        self._policy = policy

    async def show(self, page_id: str, kind: CheckoutKind | None = None) -> CheckoutPage:
        now = self._clock.now()
        async with self._uow() as uow:
            checkout = await uow.payments.get_checkout(page_id)
            if checkout is None or (
                kind is not None
                and (checkout.kind is CheckoutKind.PORTAL) != (kind is CheckoutKind.PORTAL)
            ):
                raise NotFound("no such page")
            subscription = await load_subscription(uow, checkout.tenant_id, now, self._policy)
            await uow.commit()
        variants = [
            offer
            for offer in self._catalog.variants
            if offer.amount > 0
            and (offer.plan, offer.period) != (subscription.plan, subscription.period)
        ]
        return CheckoutPage(checkout, subscription, variants, checkout.is_open(now))

    async def pay(self, page_id: str) -> None:
        """Mark the checkout paid (once: of parallel submits one wins) and apply it."""
        now = self._clock.now()
        async with self._uow() as uow:
            checkout = await uow.payments.get_checkout(page_id)
            if checkout is None or checkout.kind is CheckoutKind.PORTAL:
                raise NotFound("no such checkout")
            if checkout.kind is CheckoutKind.SUBSCRIPTION:
                await uow.tenants.lock(checkout.tenant_id)  # one paid subscription at a time
                subscription = await load_subscription(uow, checkout.tenant_id, now, self._policy)
                if subscription.is_paying:
                    raise FailedPrecondition("the tenant already pays for a plan")
            checkout.status = CheckoutStatus.PAID
            if not await uow.payments.close_checkout(checkout, now):
                raise FailedPrecondition(CLOSED)
            event = PaymentEvent.received(
                self._provider.name,
                checkout.id,
                f"checkout.{checkout.kind.value}.paid",
                {"checkout_id": checkout.id},
                now,
            )
            await uow.payments.add_event(event)
            await uow.commit()
        await self._events.apply(event.id)

    async def cancel(self, page_id: str) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            checkout = await uow.payments.get_checkout(page_id)
            if checkout is None or checkout.kind is CheckoutKind.PORTAL:
                raise NotFound("no such checkout")
            checkout.status = CheckoutStatus.CANCELED
            if not await uow.payments.close_checkout(checkout, now):
                raise FailedPrecondition(CLOSED)
            await uow.commit()

    async def _portal_subscription(self, page_id: str) -> Subscription:
        page = await self.show(page_id, CheckoutKind.PORTAL)
        if not page.is_open:
            raise FailedPrecondition(CLOSED)
        if not page.subscription.is_paying:
            raise FailedPrecondition("the tenant has no paid subscription")
        return page.subscription

    async def change_plan(self, page_id: str, variant_id: str) -> None:
        subscription = await self._portal_subscription(page_id)
        offer = buyable_offer(self._catalog, variant_id, "variant")
        key = request_key("change", subscription.tenant_id, subscription.subscription_ref, offer.id)
        state = await self._provider.change_plan(
            subscription, offer, is_upgrade(subscription, offer), key
        )
        async with self._uow() as uow:
            await apply_changes(uow, self._ids, self._policy, [state], self._clock.now())
            await uow.commit()

    async def cancel_subscription(self, page_id: str) -> None:
        """Back to FREE when the paid period ends (until then nothing changes)."""
        subscription = await self._portal_subscription(page_id)
        state = current_state(subscription, ScheduledChange(None))
        async with self._uow() as uow:
            await apply_changes(uow, self._ids, self._policy, [state], self._clock.now())
            await uow.commit()
