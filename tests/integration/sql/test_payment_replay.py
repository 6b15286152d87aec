"""Money invariants of payment events, on SQLite and PostgreSQL.

One recorded life of a subscription (subscribe, renew twice, upgrade, add-on, refund,
cancel) is applied through the real Stripe adapter (its objects served at the HTTP boundary
as Stripe holds them once it all happened) and the real apply path: in order, in order
twice, and shuffled 20 ways. Every run must reach the identical state (plan, period, status,
every grant, balance), and the ledger identity must hold after every event.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from adapters.sql.uow import SqlUnitOfWorkFactory
from application.billing.payment_ports import ReceivedEvent
from application.billing.payments import PaymentEvents
from application.billing.subscriptions import BillingPolicy, load_subscription
from domain.billing.ledger import CreditGrant
from domain.billing.subscriptions import add_months
from tests.fakes.clock import FixedClock
from tests.fakes.ids import SequentialIds
from tests.integration.sql.factories import make_tenant
from tests.support.stripe_boundary import fixture, provider_over

pytestmark = pytest.mark.integration

ANCHOR = datetime(2026, 9, 2, tzinfo=UTC)
NOW = datetime(2026, 12, 10, tzinfo=UTC)  # inside the third renewal's month
SHUFFLES = 20


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


def recorded_stripe(tenant_id: str) -> dict[str, dict[str, Any]]:
    """Stripe's objects after the whole story, by path."""
    meta = {"tenant_id": tenant_id}
    period_ends = [add_months(ANCHOR, n) for n in (1, 2, 3, 4)]
    subscription = {
        **fixture("subscription"),
        "id": "sub_1",
        "customer": "cus_1",
        "status": "active",
        "metadata": meta,
        "billing_cycle_anchor": unix(ANCHOR),
        "start_date": unix(ANCHOR),
        "current_period_start": unix(period_ends[2]),
        "current_period_end": unix(period_ends[3]),
        "cancel_at_period_end": True,
        "items": {
            "object": "list",
            "data": [{"id": "si_1", "price": {"id": "price_b", "lookup_key": "business-monthly"}}],
        },
    }
    objects: dict[str, dict[str, Any]] = {"/v1/subscriptions/sub_1": subscription}
    starts = [ANCHOR, *period_ends[:3]]
    for n, (start, end) in enumerate(zip(starts, period_ends, strict=True)):
        objects[f"/v1/invoices/in_{n}"] = {
            **fixture("invoice"),
            "id": f"in_{n}",
            "subscription": "sub_1",
            "status": "paid",
            "lines": {"data": [{"period": {"start": unix(start), "end": unix(end)}}]},
        }
    objects["/v1/checkout/sessions/cs_sub"] = {
        **fixture("checkout.session"),
        "id": "cs_sub",
        "mode": "subscription",
        "payment_status": "paid",
        "subscription": "sub_1",
        "metadata": meta,
    }
    addon_meta = {**meta, "purchase_ref": "basket-1", "credits": "5000"}
    objects["/v1/checkout/sessions/cs_addon"] = {
        **fixture("checkout.session"),
        "id": "cs_addon",
        "mode": "payment",
        "payment_status": "paid",
        "payment_intent": "pi_1",
        "created": unix(NOW - timedelta(days=3)),
        "metadata": addon_meta,
    }
    objects["/v1/payment_intents/pi_1"] = {
        **fixture("payment_intent"),
        "id": "pi_1",
        "latest_charge": "ch_1",
        "metadata": addon_meta,
    }
    objects["/v1/charges/ch_1"] = {
        **fixture("charge"),
        "id": "ch_1",
        "refunded": True,
        "payment_intent": "pi_1",
        "metadata": {},
    }
    return objects


EVENTS = [
    ("evt_subscribe", "checkout.session.completed", "cs_sub"),
    ("evt_created", "customer.subscription.created", "sub_1"),
    ("evt_paid_0", "invoice.paid", "in_0"),
    ("evt_paid_1", "invoice.paid", "in_1"),
    ("evt_paid_2", "invoice.paid", "in_2"),
    ("evt_upgraded", "customer.subscription.updated", "sub_1"),
    ("evt_paid_3", "invoice.paid", "in_3"),
    ("evt_addon", "checkout.session.completed", "cs_addon"),
    ("evt_refund", "charge.refunded", "ch_1"),
    ("evt_canceled", "customer.subscription.updated", "sub_1"),
    ("evt_other", "customer.updated", "cus_1"),
]


def grant_keys(tenant_id: str) -> list[str]:
    """Every grant the story can make: the trial, each month, the add-on."""
    months = [f"period:{add_months(ANCHOR, n).isoformat()}" for n in range(4)]
    return [f"trial:{tenant_id}", *months, "addon:basket-1"]


async def grants_of(uow_factory: SqlUnitOfWorkFactory, tenant_id: str) -> list[CreditGrant]:
    async with uow_factory() as uow:
        found = [await uow.ledger.get_grant_by_key(tenant_id, k) for k in grant_keys(tenant_id)]
    return [grant for grant in found if grant is not None]


async def ledger_identity_holds(uow_factory: SqlUnitOfWorkFactory, tenant_id: str) -> bool:
    # Nothing is spent in the story: every grant keeps 0 <= remaining <= amount.
    return all(0 <= g.remaining <= g.amount for g in await grants_of(uow_factory, tenant_id))


async def run_story(uow_factory: SqlUnitOfWorkFactory, order: list[int], repeat: int) -> Any:
    tenant = make_tenant(created_at=ANCHOR - timedelta(days=20))
    async with uow_factory() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    objects = recorded_stripe(tenant.id)

    def stripe_holds(request: httpx.Request) -> httpx.Response:
        found = objects.get(request.url.path)
        if request.method != "GET" or found is None:
            return httpx.Response(404, json={"error": {"message": "not recorded"}})
        return httpx.Response(200, json=found)

    clock = FixedClock(NOW)
    policy = BillingPolicy(trial_days=14)
    events = PaymentEvents(
        uow_factory,
        provider_over(stripe_holds, clock),
        SequentialIds(f"g-{tenant.id}"),
        clock,
        policy,
    )
    for _ in range(repeat):
        for index in order:
            event_id, type_, object_id = EVENTS[index]
            payload: dict[str, object] = {
                "id": event_id,
                "type": type_,
                "data": {"object": {"id": object_id}},
            }
            # Event ids are global at Stripe; each run is another tenant's story.
            stored = await events.record(ReceivedEvent(f"{event_id}-{tenant.id}", type_, payload))
            await events.apply(stored)
            assert await ledger_identity_holds(uow_factory, tenant.id)
    everything = sorted(
        (g.source.value, g.grant_key, g.amount, g.remaining, g.starts_at, g.expires_at)
        for g in await grants_of(uow_factory, tenant.id)
    )
    async with uow_factory() as uow:
        subscription = await load_subscription(uow, tenant.id, NOW, policy)
        balance = await uow.ledger.balance(tenant.id, NOW)
        unapplied = await uow.payments.events_due(NOW + timedelta(days=1), 100)
    assert not [e for e in unapplied if e.id.endswith(tenant.id)], "every event applied"
    return (
        subscription.plan,
        subscription.period,
        subscription.status,
        subscription.start_at,
        subscription.end_at,
        subscription.scheduled,
        everything,
        balance,
    )


async def test_any_order_or_replay_of_the_story_reaches_one_state(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    in_order = list(range(len(EVENTS)))
    expected = await run_story(uow_factory, in_order, repeat=1)
    plan, period, status, start_at, end_at, scheduled, grants, balance = expected
    assert (plan.value, period.value, status.value) == ("BUSINESS", "MONTHLY", "SUB_ACTIVE")
    assert (start_at, end_at) == (ANCHOR, add_months(ANCHOR, 4))
    assert scheduled is not None
    assert scheduled.plan is None  # canceled at period end
    by_source = {(g[0], g[2], g[3]) for g in grants}
    assert ("PERIOD", 25000, 25000) in by_source  # this month, at BUSINESS, once
    assert ("ADDON", 0, 0) in by_source  # paid, then everything unused taken back
    assert balance == 25000

    assert await run_story(uow_factory, in_order, repeat=2) == expected
    shuffler = random.Random(12)
    for _ in range(SHUFFLES):
        order = in_order[:]
        shuffler.shuffle(order)
        assert await run_story(uow_factory, order, repeat=1) == expected, order
