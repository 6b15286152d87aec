"""Stored payment events on SQLite and PostgreSQL: a failed apply is retried later, a poison
event is parked (visible to operators) without blocking the others, a re-delivery changes
nothing, and the daily reconciliation corrects what webhooks missed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from adapters.sql.uow import SqlUnitOfWorkFactory
from application.billing.offers import Offer
from application.billing.payment_ports import AddonLine, PaymentProvider, ReceivedEvent
from application.billing.payments import (
    PARK_AFTER_FAILURES,
    PaymentEvents,
    ReconcileSubscriptions,
)
from application.billing.subscriptions import BillingPolicy, load_subscription
from domain.billing.payments import (
    AddonsPaid,
    BillingChange,
    EventStatus,
    PaymentEvent,
    SubscriptionState,
    addon_grant_key,
)
from domain.billing.plans import Period, Plan, SubscriptionStatus
from domain.billing.subscriptions import Subscription
from tests.fakes.clock import FixedClock
from tests.fakes.ids import SequentialIds
from tests.integration.sql.factories import make_tenant

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
POLICY = BillingPolicy(trial_days=14)


class ScriptedProvider(PaymentProvider):
    """Answers `changes_for` from a script: an exception to raise or the changes to apply."""

    name = "stripe"

    def __init__(self) -> None:
        self.script: dict[str, list[BillingChange] | Exception] = {}
        self.failures_left: dict[str, int] = {}
        self.state: SubscriptionState | None = None

    async def changes_for(self, event: PaymentEvent) -> list[BillingChange]:
        provider_id = event.id.split(":", 1)[1]
        if self.failures_left.get(provider_id, 0) > 0:
            self.failures_left[provider_id] -= 1
            raise ConnectionError("provider unreachable")
        answer = self.script[provider_id]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def current_state(self, subscription: Subscription) -> SubscriptionState | None:
        state = self.state
        return state if state is not None and state.tenant_id == subscription.tenant_id else None

    async def ensure_customer(self, subscription: Subscription, email: str) -> str:
        raise NotImplementedError

    async def subscription_checkout(
        self, subscription: Subscription, offer: Offer, request_key: str
    ) -> str:
        raise NotImplementedError

    async def addons_checkout(
        self, subscription: Subscription, lines: list[AddonLine], request_key: str
    ) -> str:
        raise NotImplementedError

    async def change_plan(
        self, subscription: Subscription, offer: Offer, upgrade: bool, request_key: str
    ) -> SubscriptionState:
        raise NotImplementedError

    async def portal(self, subscription: Subscription, request_key: str) -> str:
        raise NotImplementedError

    def verify_event(self, body: bytes, signature: str) -> ReceivedEvent:
        raise NotImplementedError


async def new_tenant(uow_factory: SqlUnitOfWorkFactory) -> str:
    tenant = make_tenant(created_at=NOW - timedelta(days=30))
    async with uow_factory() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    return tenant.id


async def stored(uow_factory: SqlUnitOfWorkFactory, event_id: str) -> PaymentEvent:
    async with uow_factory() as uow:
        event = await uow.payments.get_event(event_id)
    assert event is not None
    return event


async def test_a_poison_event_is_parked_and_blocks_no_other(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    tenant_id = await new_tenant(uow_factory)
    provider, clock = ScriptedProvider(), FixedClock(NOW)
    events = PaymentEvents(uow_factory, provider, SequentialIds(f"g-{tenant_id}"), clock, POLICY)
    poison, good, flaky = (f"evt_{kind}_{tenant_id}" for kind in ("poison", "good", "flaky"))
    provider.script[poison] = ValueError("cannot be applied")
    provider.script[good] = [AddonsPaid(tenant_id, f"p1-{tenant_id}", 300, NOW)]
    provider.script[flaky] = [AddonsPaid(tenant_id, f"p2-{tenant_id}", 200, NOW)]
    provider.failures_left[flaky] = 2
    ids = [await events.record(ReceivedEvent(e, "x.y", {"id": e})) for e in (poison, good, flaky)]

    for event_id in ids:
        await events.apply(event_id)
    assert (await stored(uow_factory, ids[0])).status is EventStatus.RECEIVED
    assert (await stored(uow_factory, ids[1])).status is EventStatus.APPLIED
    assert (await stored(uow_factory, ids[2])).attempts == 1

    for _ in range(PARK_AFTER_FAILURES + 2):
        clock.advance(timedelta(hours=7))  # past any retry pause
        await events.redrive()

    poisoned, flaky_event = await stored(uow_factory, ids[0]), await stored(uow_factory, ids[2])
    assert (poisoned.status, poisoned.attempts) == (EventStatus.PARKED, PARK_AFTER_FAILURES)
    assert poisoned.last_error == "ValueError"
    assert flaky_event.status is EventStatus.APPLIED
    async with uow_factory() as uow:
        parked = await uow.payments.parked_events(1000)
        for ref, credits in ((f"p1-{tenant_id}", 300), (f"p2-{tenant_id}", 200)):
            grant = await uow.ledger.get_grant_by_key(tenant_id, addon_grant_key(ref))
            assert grant is not None
            assert grant.amount == credits
    assert ids[0] in {event.id for event in parked}

    # A re-delivery of an applied event is stored once and applied never again.
    assert await events.record(ReceivedEvent(good, "x.y", {"id": good})) == ids[1]
    assert await events.apply(ids[1]) is False


async def test_reconciliation_corrects_what_webhooks_missed_once(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    tenant_id = await new_tenant(uow_factory)
    provider, clock = ScriptedProvider(), FixedClock(NOW)
    ids = SequentialIds(f"r-{tenant_id}")
    pro = SubscriptionState(
        tenant_id,
        "stripe",
        f"cus_{tenant_id}",
        f"sub_{tenant_id}",
        Plan.PRO,
        Period.MONTHLY,
        SubscriptionStatus.SUB_ACTIVE,
        anchor=NOW - timedelta(days=3),
        paid_through=NOW + timedelta(days=27),
    )
    events = PaymentEvents(uow_factory, provider, ids, clock, POLICY)
    provider.script[f"evt_{tenant_id}"] = [pro]
    await events.apply(await events.record(ReceivedEvent(f"evt_{tenant_id}", "x.y", {})))
    # The upgrade's webhook never arrived; Stripe says BUSINESS.
    provider.state = replace(pro, plan=Plan.BUSINESS)
    reconcile = ReconcileSubscriptions(uow_factory, provider, ids, clock, POLICY, batch=1000)

    assert await reconcile.run_once() == 1
    assert await reconcile.run_once() == 0  # corrected once, then in agreement
    async with uow_factory() as uow:
        subscription = await load_subscription(uow, tenant_id, NOW, POLICY)
    assert subscription.plan is Plan.BUSINESS
