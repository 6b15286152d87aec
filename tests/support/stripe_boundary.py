"""Stripe at the HTTP boundary: the official SDK routed through an in-process handler that
answers with Stripe's own object fixtures (`../shared/testing/stripe/fixtures3.json`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import stripe

from adapters.payments.stripe import StripePaymentProvider
from application.billing.offers import OfferCatalog
from application.common.ports import Clock
from tests.fakes.clock import FixedClock

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "testing" / "stripe"
FRONTEND = "http://app.test"
CATALOG = OfferCatalog.bundled()


@cache
def _fixtures() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "fixtures3.json").read_text("utf-8"))
    return data


def fixture(resource: str) -> dict[str, Any]:
    """A fresh copy of Stripe's fixture object for `resource` (e.g. "checkout.session")."""
    found: dict[str, Any] = json.loads(json.dumps(_fixtures()["resources"][resource]))
    return found


def provider_over(
    handler: Callable[[httpx.Request], httpx.Response], clock: Clock | None = None
) -> StripePaymentProvider:
    http_client = stripe.HTTPXClient()
    # The SDK builds its own httpx client; route it through the handler instead.
    http_client._client_async = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return StripePaymentProvider.connect(
        "sk_test_requests", "whsec_x", "", CATALOG, clock or FixedClock(), FRONTEND, http_client
    )
