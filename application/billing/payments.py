"""Paying: checkout, plan changes, the portal, add-ons, and applying what providers report.

Every provider's news goes through `apply_changes`, inside the unit of work that also marks
the event applied, so an event changes state exactly once whatever the order or replay.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from application.billing.ledger import ensure_grants
from application.billing.offers import Addon, Offer, OfferCatalog
from application.billing.payment_ports import AddonLine, PaymentProvider, ReceivedEvent
from application.billing.plans import plan_for
from application.billing.subscriptions import BillingPolicy, due_grant_specs, load_subscription
from application.common.caller import Caller
from application.common.ports import Clock, IdGenerator, UnitOfWork, UnitOfWorkFactory
from application.tenancy.access import authorize, require_user
from domain.billing.ledger import GrantSource, GrantSpec
from domain.billing.payments import (
    AddonsPaid,
    AddonsRefunded,
    BillingChange,
    EventStatus,
    PaymentEvent,
    PeriodPaid,
    SubscriptionState,
    addon_grant_key,
    apply_provider_state,
    extend_paid_through,
)
from domain.billing.plans import TRIAL_PLANS, Period, Plan
from domain.billing.subscriptions import Subscription
from domain.errors import FailedPrecondition, InvalidArgument, NotFound
from domain.tenancy.policy import Action

logger = logging.getLogger(__name__)

MAX_ADDON_QUANTITY = 100
# Add-on credits stay usable a year after purchase.
ADDON_LIFETIME = timedelta(days=365)
# A failed apply is retried with growing pauses; after this many it is parked for operators.
PARK_AFTER_FAILURES = 8
_RETRY_BASE = timedelta(seconds=30)
_RETRY_CAP = timedelta(hours=6)
# Paid plans by rank: moving up is an upgrade (now), anything else waits for the period end.
_PLAN_RANK = {Plan.FREE: 0, Plan.PRO: 1, Plan.BUSINESS: 2}


def is_upgrade(subscription: Subscription, offer: Offer) -> bool:
    """A higher plan, or the same plan for a longer period: applied now, prorated."""
    if offer.plan is subscription.plan:
        return offer.period is Period.YEARLY and subscription.period is not Period.YEARLY
    return _PLAN_RANK.get(offer.plan, 0) > _PLAN_RANK.get(subscription.plan, 0)


def request_key(*parts: str) -> str:
    """An idempotency key from what the request is, so a retry sends the same key."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:48]


async def apply_changes(
    uow: UnitOfWork,
    ids: IdGenerator,
    policy: BillingPolicy,
    changes: list[BillingChange],
    now: datetime,
) -> None:
    """Apply a provider's changes inside `uow` (the caller commits)."""
    for change in changes:
        if isinstance(change, SubscriptionState):
            subscription = await load_subscription(uow, change.tenant_id, now, policy)
            apply_provider_state(subscription, change)
            await uow.subscriptions.update(subscription)
            await _grant_month(uow, ids, subscription, now)
        elif isinstance(change, PeriodPaid):
            subscription = await load_subscription(uow, change.tenant_id, now, policy)
            if extend_paid_through(subscription, change):
                await uow.subscriptions.update(subscription)
            await _grant_month(uow, ids, subscription, now)
        elif isinstance(change, AddonsPaid):
            spec = GrantSpec(
                GrantSource.ADDON,
                change.credits,
                change.paid_at,
                change.paid_at + ADDON_LIFETIME,
                addon_grant_key(change.purchase_ref),
            )
            await ensure_grants(uow, ids, change.tenant_id, [spec], now)
        elif isinstance(change, AddonsRefunded):
            taken = await uow.ledger.revoke_unused(
                change.tenant_id, addon_grant_key(change.purchase_ref), now
            )
            logger.info("refund of %s took back %d credits", change.purchase_ref, taken)


async def _grant_month(
    uow: UnitOfWork, ids: IdGenerator, subscription: Subscription, now: datetime
) -> None:
    """This month's credits, topped up to the plan's amount if it rose (an upgrade)."""
    plan = await plan_for(uow, subscription.plan_name)
    specs = due_grant_specs(subscription, plan, now)
    await ensure_grants(uow, ids, subscription.tenant_id, specs, now)
    for spec in specs:
        await uow.ledger.raise_grant(subscription.tenant_id, spec.grant_key, spec.amount)


@dataclass(frozen=True, slots=True)
class AddonPurchaseInput:
    addon_id: str
    quantity: int


class Payments:
    """CreateSubscription, UpdateSubscription, TenantPortal and AddonsPurchase (owners only).

    - A tenant already paying cannot subscribe again (`FailedPrecondition`: change instead);
      one not paying cannot change (`FailedPrecondition`: subscribe first).
    - Unknown variant or add-on → `NotFound`; free and trial variants cannot be bought.
    - Add-on quantities are 1 to 100 each (`InvalidArgument` naming `quantity`).
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        provider: PaymentProvider,
        catalog: OfferCatalog,
        ids: IdGenerator,
        clock: Clock,
        policy: BillingPolicy,
        return_url: str,
    ) -> None:
        self._uow = uow_factory
        self._provider = provider
        self._catalog = catalog
        self._ids = ids
        self._clock = clock
        self._policy = policy
        self._return_url = return_url  # where the owner lands after a plan change

    async def _payer(self, caller: Caller) -> tuple[Subscription, str]:
        """The owner's tenant subscription (with its provider customer) and owner email."""
        require_user(caller)
        now = self._clock.now()
        async with self._uow() as uow:
            access = await authorize(uow, caller, Action.MANAGE_BILLING)
            user = await uow.users.get(caller.user_id)
            subscription = await load_subscription(uow, access.tenant_id, now, self._policy)
            await uow.commit()
        email = user.email if user is not None else ""
        if not subscription.customer_ref:
            customer = await self._provider.ensure_customer(subscription, email)
            async with self._uow() as uow:
                stored = await load_subscription(uow, access.tenant_id, now, self._policy)
                stored.customer_ref = customer
                await uow.subscriptions.update(stored)
                await uow.commit()
            subscription = stored
        return subscription, email

    async def current(self, caller: Caller) -> Subscription:
        """The caller's current tenant's subscription (any member may look)."""
        require_user(caller)
        async with self._uow() as uow:
            access = await authorize(uow, caller, Action.READ_TENANT)
            subscription = await load_subscription(
                uow, access.tenant_id, self._clock.now(), self._policy
            )
            await uow.commit()
        return subscription

    def _offer(self, variant_id: str, field: str) -> Offer:
        return buyable_offer(self._catalog, variant_id, field)

    async def create_subscription(self, caller: Caller, variant_id: str) -> str:
        offer = self._offer(variant_id, "id")
        subscription, _ = await self._payer(caller)
        if subscription.is_paying:
            raise FailedPrecondition("the tenant already pays; change the subscription instead")
        key = request_key("subscribe", subscription.tenant_id, offer.id, _day(self._clock))
        return await self._provider.subscription_checkout(subscription, offer, key)

    async def update_subscription(self, caller: Caller, variant_id: str) -> str:
        offer = self._offer(variant_id, "new_id")
        subscription, _ = await self._payer(caller)
        if not subscription.is_paying:
            raise FailedPrecondition("the tenant has no paid subscription; subscribe first")
        if (offer.plan, offer.period) == (subscription.plan, subscription.period):
            raise FailedPrecondition("the tenant is already on this variant")
        key = request_key("change", subscription.tenant_id, subscription.subscription_ref, offer.id)
        state = await self._provider.change_plan(
            subscription, offer, is_upgrade(subscription, offer), key
        )
        async with self._uow() as uow:
            await apply_changes(uow, self._ids, self._policy, [state], self._clock.now())
            await uow.commit()
        return self._return_url

    async def portal(self, caller: Caller) -> str:
        subscription, _ = await self._payer(caller)
        key = request_key("portal", subscription.tenant_id, _minute(self._clock))
        return await self._provider.portal(subscription, key)

    async def buy_addons(self, caller: Caller, purchases: list[AddonPurchaseInput]) -> str:
        if not purchases:
            raise InvalidArgument("purchases", "must name at least one add-on")
        lines: list[AddonLine] = []
        seen: set[str] = set()
        for purchase in purchases:
            addon = self._addon(purchase.addon_id)
            if addon.id in seen:
                raise InvalidArgument("purchases", f"{addon.id} is listed twice")
            seen.add(addon.id)
            if not 1 <= purchase.quantity <= MAX_ADDON_QUANTITY:
                raise InvalidArgument("quantity", f"must be between 1 and {MAX_ADDON_QUANTITY}")
            lines.append(AddonLine(addon, purchase.quantity))
        subscription, _ = await self._payer(caller)
        basket = ",".join(f"{line.addon.id}x{line.quantity}" for line in lines)
        key = request_key("addons", subscription.tenant_id, basket, _minute(self._clock))
        return await self._provider.addons_checkout(subscription, lines, key)

    def _addon(self, addon_id: str) -> Addon:
        addon = next((a for a in self._catalog.addons if a.id == addon_id.strip()), None)
        if addon is None:
            raise NotFound("add-on not found")
        return addon


def buyable_offer(catalog: OfferCatalog, variant_id: str, field: str) -> Offer:
    offer = next((o for o in catalog.variants if o.id == variant_id.strip()), None)
    if offer is None:
        raise NotFound("variant not found")
    if offer.amount <= 0 or offer.plan in TRIAL_PLANS or offer.plan is Plan.FREE:
        raise InvalidArgument(field, "this variant cannot be bought")
    return offer


def _day(clock: Clock) -> str:
    return clock.now().strftime("%Y-%m-%d")


def _minute(clock: Clock) -> str:
    return clock.now().strftime("%Y-%m-%dT%H:%M")


class PaymentEvents:
    """The webhook and the worker's re-drive: store each event once, then apply it once.

    - A bad or missing signature → `Unauthenticated`, nothing stored.
    - Stored first (unique on id: a re-delivery is acknowledged and changes nothing), then
      applied in one unit of work with marking it applied; a failed apply stays RECEIVED
      with a growing retry pause and is parked after `PARK_AFTER_FAILURES`, so one poison
      event never blocks the others.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        provider: PaymentProvider,
        ids: IdGenerator,
        clock: Clock,
        policy: BillingPolicy,
    ) -> None:
        self._uow = uow_factory
        self._provider = provider
        self._ids = ids
        self._clock = clock
        self._policy = policy

    async def receive(self, body: bytes, signature: str) -> None:
        received = self._provider.verify_event(body, signature)
        event_id = await self.record(received)
        await self.apply(event_id)

    async def record(self, received: ReceivedEvent) -> str:
        event = PaymentEvent.received(
            self._provider.name,
            received.id,
            received.type,
            dict(received.payload),
            self._clock.now(),
        )
        async with self._uow() as uow:
            await uow.payments.add_event(event)
            await uow.commit()
        return event.id

    async def apply(self, event_id: str) -> bool:
        """Apply a stored event if it is still waiting; True when this call applied it."""
        async with self._uow() as uow:
            event = await uow.payments.get_event(event_id)
        if event is None or event.status is not EventStatus.RECEIVED:
            return False
        try:
            changes = await self._provider.changes_for(event)
            now = self._clock.now()
            async with self._uow() as uow:
                if not await uow.payments.mark_applied(event_id, now):
                    return False
                await apply_changes(uow, self._ids, self._policy, changes, now)
                await uow.commit()
        except Exception as error:
            await self._failed(event, error)
            return False
        return True

    async def _failed(self, event: PaymentEvent, error: Exception) -> None:
        pause = min(_RETRY_BASE * (2**event.attempts), _RETRY_CAP)
        logger.warning(
            "payment event %s (%s) failed to apply, attempt %d: %s",
            event.id,
            event.type,
            event.attempts + 1,
            type(error).__name__,
        )
        async with self._uow() as uow:
            await uow.payments.record_failure(
                event.id, type(error).__name__, self._clock.now() + pause, PARK_AFTER_FAILURES
            )
            await uow.commit()

    async def redrive(self, limit: int = 100) -> int:
        """Apply the stored events whose retry is due; returns how many were applied."""
        async with self._uow() as uow:
            due = await uow.payments.events_due(self._clock.now(), limit)
        applied = 0
        for event in due:
            applied += await self.apply(event.id)
        return applied


class ReconcileSubscriptions:
    """Daily: compare each tenant the provider bills with the provider's own view, apply
    what differs and log every correction (a lost or late webhook heals here)."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        provider: PaymentProvider,
        ids: IdGenerator,
        clock: Clock,
        policy: BillingPolicy,
        batch: int = 100,
    ) -> None:
        self._uow = uow_factory
        self._provider = provider
        self._ids = ids
        self._clock = clock
        self._policy = policy
        self._batch = batch

    async def run_once(self) -> int:
        """Returns how many subscriptions were corrected."""
        corrected, after = 0, ""
        while True:
            async with self._uow() as uow:
                page = await uow.subscriptions.list_billed(self._provider.name, after, self._batch)
            for subscription in page:
                corrected += await self._reconcile(subscription)
            if len(page) < self._batch:
                return corrected
            after = page[-1].tenant_id

    async def _reconcile(self, subscription: Subscription) -> int:
        state = await self._provider.current_state(subscription)
        if state is None:
            return 0
        now = self._clock.now()
        async with self._uow() as uow:
            stored = await load_subscription(uow, subscription.tenant_id, now, self._policy)
            before = (stored.plan, stored.period, stored.status, stored.end_at, stored.scheduled)
            await apply_changes(uow, self._ids, self._policy, [state], now)
            after = await load_subscription(uow, subscription.tenant_id, now, self._policy)
            await uow.commit()
        changed = (after.plan, after.period, after.status, after.end_at, after.scheduled)
        if changed == before:
            return 0
        logger.warning(
            "reconciled tenant %s with %s: %s -> %s",
            subscription.tenant_id,
            self._provider.name,
            before,
            changed,
        )
        return 1
