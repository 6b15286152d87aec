"""Stripe, through the official SDK's async methods (over httpx).

- One customer per tenant (tenant id in its metadata), created with an idempotency key.
- Each paid variant and add-on is a Price whose `lookup_key` is our id; on a
  Stripe-compatible server without Prices (localstripe), a legacy Plan whose id is ours.
- Events are never trusted for state: `changes_for` re-reads the subscription, invoice,
  session or charge the event names, so their order does not matter.
- A downgrade is a price change without proration (the next invoice bills the new price)
  plus metadata saying the old plan holds until the period ends; the state read back keeps
  the old plan until then and shows the new one as scheduled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import stripe
from stripe._base_address import BaseAddresses
from stripe.params.checkout import SessionCreateParams

from application.billing.offers import Offer, OfferCatalog
from application.billing.payment_ports import AddonLine, PaymentProvider, ReceivedEvent
from application.common.ports import Clock
from domain.billing.payments import (
    AddonsPaid,
    AddonsRefunded,
    BillingChange,
    PaymentEvent,
    PeriodPaid,
    SubscriptionState,
)
from domain.billing.plans import Period, SubscriptionStatus
from domain.billing.subscriptions import ScheduledChange, Subscription
from domain.errors import FailedPrecondition, NotFound, Unauthenticated

STRIPE = "stripe"
# Timeouts on every call: a slow Stripe is an outage to retry, not a hung request.
TIMEOUT_SECONDS = 20.0
_ACTIVE = {"active", "trialing", "past_due"}  # past_due: Stripe is still retrying
_ENDED = {"canceled", "incomplete_expired"}
_META_PLAN_UNTIL = "astra_plan_until"  # unix time the previous variant holds until
_META_PREVIOUS = "astra_previous_variant"


def _moment(unix: object) -> datetime:
    return datetime.fromtimestamp(int(str(unix)), UTC)


def _as_dict(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def item_variant(item: dict[str, Any]) -> str:
    """Our variant id of a subscription item: the price's lookup key, else the plan's id."""
    price = item.get("price") or {}
    return str(price.get("lookup_key") or (item.get("plan") or {}).get("id") or "")


class StripePaymentProvider(PaymentProvider):
    name = STRIPE

    def __init__(
        self,
        client: stripe.StripeClient,
        webhook_secret: str,
        catalog: OfferCatalog,
        clock: Clock,
        frontend_url: str,
    ) -> None:
        self._stripe = client.v1
        self._webhook_secret = webhook_secret
        self._offers = {offer.id: offer for offer in catalog.variants}
        self._addons = {addon.id: addon for addon in catalog.addons}
        self._clock = clock
        self._frontend_url = frontend_url.rstrip("/")

    @classmethod
    def connect(
        cls,
        api_key: str,
        webhook_secret: str,
        api_base: str,
        catalog: OfferCatalog,
        clock: Clock,
        frontend_url: str,
        http_client: stripe.HTTPClient | None = None,
    ) -> StripePaymentProvider:
        bases: BaseAddresses = {"api": api_base} if api_base else {}
        client = stripe.StripeClient(
            api_key,
            base_addresses=bases,
            http_client=http_client or stripe.HTTPXClient(timeout=TIMEOUT_SECONDS),
            max_network_retries=2,
        )
        return cls(client, webhook_secret, catalog, clock, frontend_url)

    async def sync_catalog(self, catalog: OfferCatalog) -> CatalogSync:
        """Create or update a Product and a Price (`lookup_key` = our id) for every paid
        variant and add-on; a price whose amount, currency or interval changed is replaced
        (the key moves to the new one). Idempotent: a second run changes nothing."""
        result = CatalogSync()
        items: list[tuple[str, str, str, int, str, str | None]] = [
            (o.id, o.name, o.description, o.amount, o.currency, _interval(o))
            for o in catalog.variants
            if o.amount > 0
        ]
        items += [(a.id, a.name, a.description, a.amount, a.currency, None) for a in catalog.addons]
        for offer_id, name, description, amount, currency, interval in items:
            product_id = f"astra-{offer_id}"
            await self._ensure_product(product_id, name, description, result)
            prices = await self._stripe.prices.list_async(
                params={"lookup_keys": [offer_id], "active": True, "limit": 1}
            )
            current = _as_dict(prices.data[0]) if prices.data else None
            if current is not None and _same_price(current, amount, currency, interval):
                result.unchanged.append(offer_id)
                continue
            params: dict[str, Any] = {
                "product": product_id,
                "unit_amount": amount,
                "currency": currency,
                "lookup_key": offer_id,
                "transfer_lookup_key": True,
                "metadata": {"astra_offer": offer_id},
            }
            if interval is not None:
                params["recurring"] = {"interval": interval}
            await self._stripe.prices.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": f"price-{offer_id}-{amount}-{currency}-{interval}"},
            )
            (result.updated if current is not None else result.created).append(offer_id)
        return result

    async def _ensure_product(
        self, product_id: str, name: str, description: str, result: CatalogSync
    ) -> None:
        try:
            product = _as_dict(await self._stripe.products.retrieve_async(product_id))
        except stripe.InvalidRequestError:
            await self._stripe.products.create_async(
                params={"id": product_id, "name": name, "description": description},
                options={"idempotency_key": f"product-{product_id}"},
            )
            return
        if (product.get("name"), product.get("description")) != (name, description):
            await self._stripe.products.update_async(
                product_id, params={"name": name, "description": description}
            )

    async def ensure_customer(self, subscription: Subscription, email: str) -> str:
        customer = await self._stripe.customers.create_async(
            params={"email": email, "metadata": {"tenant_id": subscription.tenant_id}},
            options={"idempotency_key": f"customer-{subscription.tenant_id}"},
        )
        return str(customer.id)

    async def _price_id(self, lookup_key: str) -> str:
        prices = await self._stripe.prices.list_async(
            params={"lookup_keys": [lookup_key], "active": True, "limit": 1}
        )
        if not prices.data:
            raise FailedPrecondition(f"no Stripe price for {lookup_key}; run `astra stripe sync`")
        return str(prices.data[0].id)

    async def subscription_checkout(
        self, subscription: Subscription, offer: Offer, request_key: str
    ) -> str:
        metadata = {"tenant_id": subscription.tenant_id, "variant": offer.id}
        params: SessionCreateParams = {
            "mode": "subscription",
            "customer": subscription.customer_ref,
            "client_reference_id": subscription.tenant_id,
            "line_items": [{"price": await self._price_id(offer.id), "quantity": 1}],
            "subscription_data": {"metadata": metadata},
            "metadata": metadata,
            "success_url": f"{self._frontend_url}/billing?payment=paid",
            "cancel_url": f"{self._frontend_url}/billing?payment=canceled",
        }
        session = await self._stripe.checkout.sessions.create_async(
            params=params, options={"idempotency_key": f"checkout-{request_key}"}
        )
        return str(session.url)

    async def addons_checkout(
        self, subscription: Subscription, lines: list[AddonLine], request_key: str
    ) -> str:
        credits = sum(line.addon.credits * line.quantity for line in lines)
        metadata = {
            "tenant_id": subscription.tenant_id,
            "purchase_ref": request_key,
            "credits": str(credits),
        }
        params: SessionCreateParams = {
            "mode": "payment",
            "customer": subscription.customer_ref,
            "client_reference_id": subscription.tenant_id,
            "line_items": [
                {"price": await self._price_id(line.addon.id), "quantity": line.quantity}
                for line in lines
            ],
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "success_url": f"{self._frontend_url}/billing?payment=paid",
            "cancel_url": f"{self._frontend_url}/billing?payment=canceled",
        }
        session = await self._stripe.checkout.sessions.create_async(
            params=params, options={"idempotency_key": f"addons-{request_key}"}
        )
        return str(session.url)

    async def portal(self, subscription: Subscription, request_key: str) -> str:
        session = await self._stripe.billing_portal.sessions.create_async(
            params={
                "customer": subscription.customer_ref,
                "return_url": f"{self._frontend_url}/billing",
            },
            options={"idempotency_key": f"portal-{request_key}"},
        )
        return str(session.url)

    async def change_plan(
        self, subscription: Subscription, offer: Offer, upgrade: bool, request_key: str
    ) -> SubscriptionState:
        current = _as_dict(
            await self._stripe.subscriptions.retrieve_async(subscription.subscription_ref)
        )
        item = current["items"]["data"][0]
        params: dict[str, Any] = {
            "items": [{"id": item["id"], "price": await self._price_id(offer.id)}],
        }
        if upgrade:
            # Charged now for the rest of the period; the credit difference is granted when
            # the state below is applied.
            params["proration_behavior"] = "always_invoice"
            params["metadata"] = {_META_PLAN_UNTIL: "", _META_PREVIOUS: ""}
        else:
            params["proration_behavior"] = "none"
            params["metadata"] = {
                _META_PLAN_UNTIL: str(_period_end(current)),
                _META_PREVIOUS: item_variant(item),
            }
        updated = await self._stripe.subscriptions.update_async(
            subscription.subscription_ref,
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": f"change-{request_key}"},
        )
        state = self._state(_as_dict(updated))
        if state is None:
            raise NotFound("the Stripe subscription names no tenant")
        return state

    def verify_event(self, body: bytes, signature: str) -> ReceivedEvent:
        if not signature:
            raise Unauthenticated("missing Stripe-Signature")
        try:
            event = stripe.Webhook.construct_event(body, signature, self._webhook_secret)
        except (stripe.SignatureVerificationError, ValueError):
            raise Unauthenticated("the webhook signature does not verify") from None
        return ReceivedEvent(id=str(event.id), type=str(event.type), payload=_as_dict(event))

    async def changes_for(self, event: PaymentEvent) -> list[BillingChange]:
        data = event.payload.get("data", {}).get("object", {})
        object_id = str(data.get("id", ""))
        kind = event.type
        if kind.startswith("customer.subscription."):
            return await self._subscription_changes(object_id)
        if kind in ("invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed"):
            return await self._invoice_changes(object_id)
        if kind == "checkout.session.completed":
            return await self._checkout_changes(object_id)
        if kind == "charge.refunded":
            return await self._refund_changes(object_id)
        return []  # acknowledged and recorded, nothing to change

    async def _subscription_changes(self, subscription_id: str) -> list[BillingChange]:
        found = await self._stripe.subscriptions.retrieve_async(subscription_id)
        state = self._state(_as_dict(found))
        return [state] if state is not None else []

    async def _invoice_changes(self, invoice_id: str) -> list[BillingChange]:
        invoice = _as_dict(await self._stripe.invoices.retrieve_async(invoice_id))
        subscription_id = str(invoice.get("subscription") or _invoice_subscription(invoice))
        if not subscription_id:
            return []
        changes = await self._subscription_changes(subscription_id)
        paid = invoice.get("status") == "paid" or invoice.get("paid") is True
        if paid and changes:
            state = changes[0]
            assert isinstance(state, SubscriptionState)
            period_end = _invoice_period_end(invoice)
            if period_end is not None:
                changes.append(
                    PeriodPaid(state.tenant_id, subscription_id, str(invoice["id"]), period_end)
                )
        return changes

    async def _checkout_changes(self, session_id: str) -> list[BillingChange]:
        session = _as_dict(await self._stripe.checkout.sessions.retrieve_async(session_id))
        if session.get("payment_status") != "paid":
            return []  # completed without payment (e.g. an async method still pending)
        if session.get("mode") == "subscription" and session.get("subscription"):
            subscription = session["subscription"]
            subscription_id = subscription if isinstance(subscription, str) else subscription["id"]
            return await self._subscription_changes(str(subscription_id))
        metadata = session.get("metadata") or {}
        tenant_id = str(metadata.get("tenant_id") or session.get("client_reference_id") or "")
        purchase_ref = str(metadata.get("purchase_ref", ""))
        credits = int(str(metadata.get("credits", "0")))
        if session.get("mode") != "payment" or not (tenant_id and purchase_ref and credits > 0):
            return []
        paid_at = _moment(session.get("created") or self._clock.now().timestamp())
        changes: list[BillingChange] = [AddonsPaid(tenant_id, purchase_ref, credits, paid_at)]
        # Refunded already (its event may come first): grant and take back in one go, so
        # the result is the same whichever event is applied first.
        if await self._payment_refunded(session.get("payment_intent")):
            changes.append(AddonsRefunded(tenant_id, purchase_ref))
        return changes

    async def _payment_refunded(self, intent: object) -> bool:
        if not intent:
            return False
        intent_id = intent if isinstance(intent, str) else _as_dict(intent).get("id")
        found = _as_dict(await self._stripe.payment_intents.retrieve_async(str(intent_id)))
        charge_id = found.get("latest_charge")
        if not charge_id:
            return False
        charge = _as_dict(await self._stripe.charges.retrieve_async(str(charge_id)))
        return bool(charge.get("refunded"))

    async def _refund_changes(self, charge_id: str) -> list[BillingChange]:
        charge = _as_dict(await self._stripe.charges.retrieve_async(charge_id))
        metadata = charge.get("metadata") or {}
        if not metadata.get("purchase_ref") and charge.get("payment_intent"):
            intent = _as_dict(
                await self._stripe.payment_intents.retrieve_async(str(charge["payment_intent"]))
            )
            metadata = intent.get("metadata") or {}
        tenant_id, purchase_ref = metadata.get("tenant_id"), metadata.get("purchase_ref")
        if not (tenant_id and purchase_ref and charge.get("refunded")):
            return []
        return [AddonsRefunded(str(tenant_id), str(purchase_ref))]

    async def current_state(self, subscription: Subscription) -> SubscriptionState | None:
        if not subscription.subscription_ref:
            return None
        found = await self._stripe.subscriptions.retrieve_async(subscription.subscription_ref)
        return self._state(_as_dict(found))

    def _state(self, sub: dict[str, Any]) -> SubscriptionState | None:
        """Our view of a Stripe subscription; None when it names no tenant or variant."""
        metadata = sub.get("metadata") or {}
        tenant_id = str(metadata.get("tenant_id", ""))
        items = (sub.get("items") or {}).get("data") or []
        offer = self._offers.get(item_variant(items[0])) if items else None
        if not tenant_id or offer is None:
            return None
        customer = sub.get("customer")
        customer_ref = str(customer if isinstance(customer, str) else (customer or {}).get("id"))
        status = str(sub.get("status", ""))
        ended_at = None
        if status in _ENDED:
            ended_at = _moment(sub.get("ended_at") or sub.get("canceled_at") or _period_end(sub))
        scheduled: ScheduledChange | None = None
        plan_until = str(metadata.get(_META_PLAN_UNTIL) or "")
        previous = self._offers.get(str(metadata.get(_META_PREVIOUS) or ""))
        if previous is not None and plan_until and self._clock.now() < _moment(plan_until):
            scheduled, offer = ScheduledChange(offer.plan, offer.period), previous
        if sub.get("cancel_at_period_end"):
            scheduled = ScheduledChange(None)
        return SubscriptionState(
            tenant_id=tenant_id,
            provider=self.name,
            customer_ref=customer_ref,
            subscription_ref=str(sub["id"]),
            plan=offer.plan,
            period=offer.period,
            status=SubscriptionStatus.SUB_ACTIVE
            if status in _ACTIVE
            else SubscriptionStatus.SUB_DISABLE,
            anchor=_moment(sub.get("billing_cycle_anchor") or sub.get("start_date") or 0),
            paid_through=_moment(_period_end(sub)),
            scheduled=scheduled,
            ended_at=ended_at,
        )


@dataclass(slots=True)
class CatalogSync:
    """What `astra stripe sync` did, by our offer id."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _interval(offer: Offer) -> str:
    return "year" if offer.period is Period.YEARLY else "month"


def _same_price(price: dict[str, Any], amount: int, currency: str, interval: str | None) -> bool:
    recurring = (price.get("recurring") or {}).get("interval")
    return (price.get("unit_amount"), price.get("currency"), recurring) == (
        amount,
        currency,
        interval,
    )


def _period_end(sub: dict[str, Any]) -> int:
    """`current_period_end`: on the subscription before API 2025-03, on its items after."""
    if sub.get("current_period_end"):
        return int(sub["current_period_end"])
    items = (sub.get("items") or {}).get("data") or []
    return int(items[0].get("current_period_end") or 0) if items else 0


def _invoice_subscription(invoice: dict[str, Any]) -> str:
    parent = (invoice.get("parent") or {}).get("subscription_details") or {}
    return str(parent.get("subscription") or "")


def _invoice_period_end(invoice: dict[str, Any]) -> datetime | None:
    lines = (invoice.get("lines") or {}).get("data") or []
    ends = [int(line["period"]["end"]) for line in lines if (line.get("period") or {}).get("end")]
    return _moment(max(ends)) if ends else None
