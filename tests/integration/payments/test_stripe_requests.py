"""The Stripe calls localstripe cannot serve (Prices, Checkout and Billing Portal sessions),
checked at the HTTP boundary: the request the official SDK really sends, answered with
Stripe's own object fixtures (`../shared/testing/stripe/fixtures3.json`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from application.billing.payment_ports import AddonLine
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
