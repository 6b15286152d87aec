"""Ports of payments: the provider that takes the money, and where its events are kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from application.billing.offers import Addon, Offer
from domain.billing.payments import BillingChange, LocalCheckout, PaymentEvent, SubscriptionState
from domain.billing.subscriptions import Subscription


@dataclass(frozen=True, slots=True)
class AddonLine:
    addon: Addon
    quantity: int


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    """A verified event: its id (unique at the provider), type and body as sent."""

    id: str
    type: str
    payload: dict[str, object]


class PaymentProvider(Protocol):
    """Takes payments and tells what they changed. Every call is idempotent by `request_key`
    (derived from the request), so a retried call never opens a second session or charge."""

    name: str

    async def ensure_customer(self, subscription: Subscription, email: str) -> str:
        """The tenant's customer at the provider, created once; returns its reference."""
        ...

    async def subscription_checkout(
        self, subscription: Subscription, offer: Offer, request_key: str
    ) -> str:
        """A payment page for `offer`; returns its URL."""
        ...

    async def addons_checkout(
        self, subscription: Subscription, lines: list[AddonLine], request_key: str
    ) -> str: ...

    async def change_plan(
        self, subscription: Subscription, offer: Offer, upgrade: bool, request_key: str
    ) -> SubscriptionState:
        """Move the paying subscription to `offer`: an upgrade now (prorated), otherwise at
        the end of the paid period. Returns the provider's state after it."""
        ...

    async def portal(self, subscription: Subscription, request_key: str) -> str:
        """A page where the owner manages billing; returns its URL."""
        ...

    def verify_event(self, body: bytes, signature: str) -> ReceivedEvent:
        """Check the signature on the raw body; `Unauthenticated` when it does not hold."""
        ...

    async def changes_for(self, event: PaymentEvent) -> list[BillingChange]:
        """What the event changed, re-reading the provider's objects it names (never the
        event's copy of them). Empty for events that change nothing here."""
        ...

    async def current_state(self, subscription: Subscription) -> SubscriptionState | None:
        """The provider's view of a paying tenant's subscription now (reconciliation)."""
        ...


class PaymentRepository(Protocol):
    """Events as received and local checkout pages, inside one unit of work."""

    async def add_event(self, event: PaymentEvent) -> bool:
        """Store an event unless its id is already there (False then, nothing changed)."""
        ...

    async def get_event(self, event_id: str) -> PaymentEvent | None: ...

    async def mark_applied(self, event_id: str, now: datetime) -> bool:
        """RECEIVED → APPLIED; False when it was not RECEIVED (another apply won)."""
        ...

    async def record_failure(
        self, event_id: str, error: str, retry_at: datetime, park_after: int
    ) -> None:
        """Count a failed apply; from `park_after` failures on the event is PARKED."""
        ...

    async def events_due(self, now: datetime, limit: int) -> list[PaymentEvent]:
        """RECEIVED events whose next attempt is due, oldest first."""
        ...

    async def parked_events(self, limit: int) -> list[PaymentEvent]: ...

    async def add_checkout(self, checkout: LocalCheckout) -> bool:
        """Store a checkout unless its id exists (a retried request): False then."""
        ...

    async def get_checkout(self, checkout_id: str) -> LocalCheckout | None: ...

    async def close_checkout(self, checkout: LocalCheckout, now: datetime) -> bool:
        """Store `checkout.status` if the stored one is still open at `now`; one wins."""
        ...
