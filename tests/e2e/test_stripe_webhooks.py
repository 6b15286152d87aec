"""Stripe webhooks for real: `localstripe` (started here) signs and delivers the events of a
subscription's life to `astra serve` with `ASTRA_PAYMENTS=stripe`, which verifies each on the
raw body, stores it once and re-reads the subscription from Stripe before applying it.

localstripe has customers, plans, subscriptions, invoices and signed webhooks (no Prices,
Checkout or Portal: those calls are checked at the HTTP boundary in
`tests/integration/payments/test_stripe_requests.py`)."""

from __future__ import annotations

import secrets
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from bench.astra import AstraDeployment, astra_deployment, sign_up
from bench.infra import clean_environment, free_port, running_server
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

API_KEY = "sk_test_astra"
WEBHOOK = "/account/v1/billing/webhook"
DELIVERY_SECONDS = 60.0  # localstripe sends ~1 s after a change; a busy machine is slower


@dataclass(frozen=True, slots=True)
class StripeWorld:
    astra: AstraDeployment
    client: httpx.AsyncClient
    stripe: stripe.StripeClient


@pytest.fixture
async def world() -> AsyncIterator[StripeWorld]:
    secret = f"whsec_{secrets.token_hex(16)}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [str(Path(sys.executable).with_name("localstripe")), "--port", str(port)]
    with tempfile.TemporaryDirectory(prefix="localstripe-") as tmp:
        async with running_server(
            "localstripe",
            [*argv, "--from-scratch"],
            port,
            clean_environment({}),
            Path(tmp),
            "/js.stripe.com/v3/",
        ):
            settings = {
                "ASTRA_PAYMENTS": "stripe",
                "ASTRA_STRIPE_API_KEY": API_KEY,
                "ASTRA_STRIPE_WEBHOOK_SECRET": secret,
                "ASTRA_STRIPE_API_BASE": base,
            }
            async with (
                astra_deployment(settings) as astra,
                httpx.AsyncClient(base_url=astra.base_url, timeout=30.0) as client,
            ):
                hook = await client.post(
                    f"{base}/_config/webhooks/astra",
                    data={"url": f"{astra.base_url}{WEBHOOK}", "secret": secret},
                )
                assert hook.status_code == 200, hook.text
                sdk = stripe.StripeClient(
                    API_KEY, base_addresses={"api": base}, http_client=stripe.HTTPXClient()
                )
                yield StripeWorld(astra, client, sdk)


async def subscription_of(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await client.get(
        "/account/v1/subscription", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()["subscription"]
    return body


async def credits_of(client: httpx.AsyncClient, token: str, tenant_id: str) -> int:
    response = await client.get(
        f"/usage/v1/tenants/{tenant_id}/usage", headers={"Authorization": f"Bearer {token}"}
    )
    configs = {c["category"]: c for c in response.json()["config"]["usage_configs"]}
    return int(configs["USAGE_CREDIT"]["total_amount"])


async def paying_customer(sdk: stripe.StripeClient, tenant_id: str) -> str:
    """What Checkout leaves behind: a customer of the tenant with a card on file."""
    v1 = sdk.v1
    customer = await v1.customers.create_async(params={"metadata": {"tenant_id": tenant_id}})
    card = await v1.payment_methods.create_async(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    await v1.payment_methods.attach_async(card.id, params={"customer": customer.id})
    await v1.customers.update_async(
        customer.id, params={"invoice_settings": {"default_payment_method": card.id}}
    )
    return str(customer.id)


async def test_a_subscription_lives_and_ends_through_signed_webhooks(world: StripeWorld) -> None:
    client, v1 = world.client, world.stripe.v1
    _, token = await sign_up(world.astra)
    me = await client.get("/account/v1/user", headers={"Authorization": f"Bearer {token}"})
    tenant_id = me.json()["user"]["current_tenant_id"]
    before = await credits_of(client, token, tenant_id)
    product = await v1.products.create_async(params={"name": "Pro"})
    await v1.plans.create_async(
        params={
            "id": "pro-monthly",  # our variant id: localstripe has no Prices to look up
            "product": product.id,
            "amount": 4900,
            "currency": "usd",
            "interval": "month",
        }
    )
    customer = await paying_customer(world.stripe, tenant_id)

    subscription = await v1.subscriptions.create_async(
        params={
            "customer": customer,
            "items": [{"plan": "pro-monthly"}],
            "metadata": {"tenant_id": tenant_id},
        }
    )

    async def on_pro() -> bool:
        return bool((await subscription_of(client, token))["plan"] == "PRO")

    await eventually(on_pro, "the subscription reached Astra", DELIVERY_SECONDS)
    paid = await subscription_of(client, token)
    assert (paid["period"], paid["status"]) == ("MONTHLY", "SUB_ACTIVE")

    async def credited() -> bool:
        return await credits_of(client, token, tenant_id) == before + 5000

    await eventually(credited, "the paid month's credits", DELIVERY_SECONDS)

    await v1.subscriptions.cancel_async(subscription.id)

    async def on_free() -> bool:
        return bool((await subscription_of(client, token))["plan"] == "FREE")

    await eventually(on_free, "the cancellation reached Astra", DELIVERY_SECONDS)
    # Credits already granted stay usable until they expire.
    assert await credits_of(client, token, tenant_id) >= before + 5000


async def test_an_event_without_a_valid_signature_is_refused(world: StripeWorld) -> None:
    body = b'{"id": "evt_forged", "type": "customer.subscription.created", "data": {"object": {}}}'
    for headers in ({}, {"Stripe-Signature": "t=1,v1=deadbeef"}):
        response = await world.client.post(
            WEBHOOK, content=body, headers={"content-type": "application/json", **headers}
        )
        assert response.status_code == 401, response.text
        assert response.json()["code"] == 16
