"""Picks the payment provider from settings (`ASTRA_PAYMENTS`)."""

from __future__ import annotations

from adapters.payments.local import LocalPaymentProvider
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
        # Refused at start rather than failing on the first payment: the Stripe adapter is
        # not part of this build yet (issue 12 is open).
        raise ValueError("ASTRA_PAYMENTS=stripe is not available yet; use local")
    return LocalPaymentProvider(uow, clock, catalog, settings.public_url, page_secret)
