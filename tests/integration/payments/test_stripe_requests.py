"""The Stripe calls localstripe cannot serve (Prices, Checkout and Billing Portal sessions),
checked at the HTTP boundary: the request the official SDK really sends, answered with
Stripe's own object fixtures (`../shared/testing/stripe/fixtures3.json`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from application.billing.payment_ports import AddonLine
from domain.billing.payments import PaymentEvent, SubscriptionState
from domain.billing.plans import Period, Plan, SubscriptionStatus
from domain.billing.subscriptions import Subscription
from tests.fakes.clock import FixedClock
from tests.support.stripe_boundary import CATALOG, FRONTEND, fixture, provider_over

pytestmark = pytest.mark.integration


class RecordingStripe:
    """Answers like Stripe for the few paths the adapter calls, and keeps every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/v1/prices":
            key = request.url.params.get("lookup_keys[0]", "")
            price = {**fixture("price"), "id": f"price_{key}", "lookup_key": key}
            return httpx.Response(200, json={"object": "list", "data": [price], "has_more": False})
        if path == "/v1/checkout/sessions":
            return httpx.Response(200, json=fixture("checkout.session"))
        if path == "/v1/billing_portal/sessions":
            return httpx.Response(200, json=fixture("billing_portal.session"))
        return httpx.Response(404, json={"error": {"message": f"unexpected {path}"}})

    def form(self, index: int) -> dict[str, list[str]]:
        return parse_qs(self.requests[index].content.decode())

    def posts(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "POST"]


def tenant_subscription() -> Subscription:
    now = FixedClock().now()
    return Subscription(
        "tenant-1",
        Plan.NEW_USER_TRIAL,
        Period.NOT_DEFINE,
        SubscriptionStatus.SUB_ACTIVE,
        now,
        now,
        trial=True,
        customer_ref="cus_tenant1",
    )


def offer(variant_id: str) -> Any:
    return next(o for o in CATALOG.variants if o.id == variant_id)


async def test_subscription_checkout_sends_mode_tenant_price_urls_and_a_stable_key() -> None:
    recorder = RecordingStripe()
    provider = provider_over(recorder.handle)

    url = await provider.subscription_checkout(tenant_subscription(), offer("pro-monthly"), "k1")
    again = await provider.subscription_checkout(tenant_subscription(), offer("pro-monthly"), "k1")

    assert url == again == fixture("checkout.session")["url"]
    lookup = recorder.requests[0]
    assert lookup.method == "GET"
    assert lookup.url.params["lookup_keys[0]"] == "pro-monthly"
    sent = [r for r in recorder.posts() if r.url.path == "/v1/checkout/sessions"]
    form = parse_qs(sent[0].content.decode())
    assert form["mode"] == ["subscription"]
    assert form["customer"] == ["cus_tenant1"]
    assert form["client_reference_id"] == ["tenant-1"]
    assert form["line_items[0][price]"] == ["price_pro-monthly"]
    assert form["line_items[0][quantity]"] == ["1"]
    assert form["subscription_data[metadata][tenant_id]"] == ["tenant-1"]
    assert form["success_url"] == [f"{FRONTEND}/billing?payment=paid"]
    assert form["cancel_url"] == [f"{FRONTEND}/billing?payment=canceled"]
    # A retried request carries the same idempotency key: Stripe answers the first session.
    keys = {r.headers["Idempotency-Key"] for r in sent}
    assert keys == {"checkout-k1"}
    assert sent[0].headers["Authorization"] == "Bearer sk_test_requests"


async def test_addons_checkout_is_a_payment_with_one_line_per_pack() -> None:
    recorder = RecordingStripe()
    provider = provider_over(recorder.handle)
    packs = {a.id: a for a in CATALOG.addons}
    lines = [AddonLine(packs["credits-1000"], 2), AddonLine(packs["credits-5000"], 1)]

    await provider.addons_checkout(tenant_subscription(), lines, "basket-1")

    (sent,) = [r for r in recorder.posts() if r.url.path == "/v1/checkout/sessions"]
    form = parse_qs(sent.content.decode())
    assert form["mode"] == ["payment"]
    assert form["line_items[0][price]"] == ["price_credits-1000"]
    assert form["line_items[0][quantity]"] == ["2"]
    assert form["line_items[1][price]"] == ["price_credits-5000"]
    assert form["line_items[1][quantity]"] == ["1"]
    # What the refund and the grant are keyed by travels with the payment itself.
    assert form["payment_intent_data[metadata][purchase_ref]"] == ["basket-1"]
    assert form["metadata[credits]"] == ["7000"]
    assert sent.headers["Idempotency-Key"] == "addons-basket-1"


async def test_the_portal_is_a_billing_portal_session_returning_to_the_app() -> None:
    recorder = RecordingStripe()
    provider = provider_over(recorder.handle)

    url = await provider.portal(tenant_subscription(), "portal-1")

    assert url == fixture("billing_portal.session")["url"]
    (sent,) = recorder.posts()
    assert sent.url.path == "/v1/billing_portal/sessions"
    assert parse_qs(sent.content.decode()) == {
        "customer": ["cus_tenant1"],
        "return_url": [f"{FRONTEND}/billing"],
    }
    assert sent.headers["Idempotency-Key"] == "portal-portal-1"


class CatalogStripe:
    """Products and prices kept as Stripe would, for `astra stripe sync`."""

    def __init__(self) -> None:
        self.products: dict[str, dict[str, Any]] = {}
        self.prices: list[dict[str, Any]] = []
        self.writes: list[tuple[str, dict[str, list[str]]]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, form = request.url.path, parse_qs(request.content.decode())
        if request.method == "POST":
            self.writes.append((path, form))
        if path.startswith("/v1/products/") and request.method == "GET":
            found = self.products.get(path.rsplit("/", 1)[1])
            if found is None:
                return httpx.Response(404, json={"error": {"type": "invalid_request_error"}})
            return httpx.Response(200, json=found)
        if path == "/v1/products":
            product = {**fixture("product"), "id": form["id"][0], "name": form["name"][0]}
            product["description"] = form["description"][0]
            self.products[product["id"]] = product
            return httpx.Response(200, json=product)
        if path == "/v1/prices" and request.method == "GET":
            key = request.url.params["lookup_keys[0]"]
            listed = [p for p in self.prices if p["lookup_key"] == key]
            return httpx.Response(200, json={"object": "list", "data": listed, "has_more": False})
        if path == "/v1/prices":
            interval = form.get("recurring[interval]", [None])[0]
            price = {
                **fixture("price"),
                "id": f"price_{len(self.prices)}",
                "lookup_key": form["lookup_key"][0],
                "unit_amount": int(form["unit_amount"][0]),
                "currency": form["currency"][0],
                "recurring": {"interval": interval} if interval else None,
            }
            self.prices = [p for p in self.prices if p["lookup_key"] != price["lookup_key"]]
            self.prices.append(price)
            return httpx.Response(200, json=price)
        return httpx.Response(404, json={"error": {"message": f"unexpected {path}"}})


async def test_stripe_sync_creates_each_offer_once_and_then_changes_nothing() -> None:
    world = CatalogStripe()
    provider = provider_over(world.handle)
    paid = [o for o in CATALOG.variants if o.amount > 0]

    first = await provider.sync_catalog(CATALOG)

    assert sorted(first.created) == sorted([o.id for o in paid] + [a.id for a in CATALOG.addons])
    by_key = {price["lookup_key"]: price for price in world.prices}
    assert by_key["pro-yearly"]["unit_amount"] == 49000
    assert by_key["pro-yearly"]["recurring"] == {"interval": "year"}
    assert by_key["credits-5000"]["recurring"] is None
    assert set(world.products) == {f"astra-{key}" for key in by_key}

    world.writes.clear()
    again = await provider.sync_catalog(CATALOG)
    assert (again.created, again.updated, world.writes) == ([], [], [])
    assert len(again.unchanged) == len(by_key)


def stripe_subscription(variant: str, period_end: int, metadata: dict[str, str]) -> dict[str, Any]:
    return {
        **fixture("subscription"),
        "id": "sub_1",
        "customer": "cus_tenant1",
        "status": "active",
        "billing_cycle_anchor": period_end - 30 * 86400,
        "current_period_end": period_end,
        "cancel_at_period_end": False,
        "metadata": {"tenant_id": "tenant-1", **metadata},
        "items": {
            "data": [{"id": "si_1", "price": {"id": f"price_{variant}", "lookup_key": variant}}]
        },
    }


@pytest.mark.parametrize(
    ("target", "upgrade", "proration", "plan_now", "scheduled"),
    [
        ("business-monthly", True, "always_invoice", Plan.BUSINESS, None),
        ("pro-monthly", False, "none", Plan.BUSINESS, Plan.PRO),
    ],
)
async def test_a_plan_change_is_prorated_now_or_priced_from_the_next_period(
    target: str, upgrade: bool, proration: str, plan_now: Plan, scheduled: Plan | None
) -> None:
    clock = FixedClock()
    period_end = int(clock.now().timestamp()) + 10 * 86400
    current = "pro-monthly" if upgrade else "business-monthly"
    sent: list[dict[str, list[str]]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/prices":
            key = request.url.params["lookup_keys[0]"]
            return httpx.Response(
                200,
                json={
                    "object": "list",
                    "data": [{**fixture("price"), "id": f"price_{key}", "lookup_key": key}],
                },
            )
        if request.method == "GET":
            return httpx.Response(200, json=stripe_subscription(current, period_end, {}))
        form = parse_qs(request.content.decode())
        sent.append(form)
        metadata = {k[9:-1]: v[0] for k, v in form.items() if k.startswith("metadata[")}
        return httpx.Response(200, json=stripe_subscription(target, period_end, metadata))

    provider = provider_over(handle, clock)
    subscription = tenant_subscription()
    subscription.subscription_ref = "sub_1"

    state = await provider.change_plan(subscription, offer(target), upgrade, "change-1")

    (form,) = sent
    assert form["items[0][id]"] == ["si_1"]
    assert form["items[0][price]"] == [f"price_{target}"]
    assert form["proration_behavior"] == [proration]
    assert state.plan is plan_now
    assert (state.scheduled.plan if state.scheduled else None) is scheduled
    assert int(state.paid_through.timestamp()) == period_end


@pytest.mark.parametrize(
    ("stripe_status", "status", "ended"),
    [
        ("active", SubscriptionStatus.SUB_ACTIVE, False),
        ("past_due", SubscriptionStatus.SUB_ACTIVE, False),  # Stripe is still retrying
        ("unpaid", SubscriptionStatus.SUB_DISABLE, False),  # Stripe gave up
        ("canceled", SubscriptionStatus.SUB_DISABLE, True),  # ended: the tenant falls to FREE
    ],
)
async def test_an_event_is_applied_from_the_subscription_as_stripe_holds_it_now(
    stripe_status: str, status: SubscriptionStatus, ended: bool
) -> None:
    period_end = int(FixedClock().now().timestamp()) + 86400
    held = {**stripe_subscription("pro-monthly", period_end, {}), "status": stripe_status}
    paths: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(200, json=held)

    provider = provider_over(handle)
    # The event's own copy says "active": it is not what counts.
    stale = {"id": "sub_1", "status": "active"}
    event = PaymentEvent.received(
        "stripe",
        "evt_1",
        "customer.subscription.updated",
        {"data": {"object": stale}},
        FixedClock().now(),
    )

    (state,) = await provider.changes_for(event)

    assert paths == ["/v1/subscriptions/sub_1"]
    assert isinstance(state, SubscriptionState)
    assert (state.status, state.ended_at is not None) == (status, ended)
    assert state.plan is Plan.PRO
