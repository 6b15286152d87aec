"""Picks the payment provider from settings (`ASTRA_PAYMENTS`)."""

from __future__ import annotations

from adapters.payments.local import LocalPaymentProvider
from adapters.payments.stripe import StripePaymentProvider
from application.billing.offers import OfferCatalog
from application.billing.payment_ports import PaymentProvider
from application.common.ports import Clock, UnitOfWorkFactory
from entrypoints.settings import Settings


def payment_provider_for(
    settings: Settings,
    uow: UnitOfWorkFactory,
    clock: Clock,
    catalog: OfferCatalog,
    page_secret: str,
) -> PaymentProvider:
    """`page_secret` keys the local provider's page ids (a key of its own, never the JWT's)."""
    if settings.payments == "stripe":
        return StripePaymentProvider.connect(
            settings.stripe.api_key,
            settings.stripe.webhook_secret,
            settings.stripe.api_base,
            catalog,
            clock,
            settings.effective_frontend_url,
        )
    return LocalPaymentProvider(uow, clock, catalog, settings.public_url, page_secret)
