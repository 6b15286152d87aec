"""Wires the plan, subscription, ledger and usage use cases to the adapters the root picked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from application.billing.catalog_ports import AgentCounter
from application.billing.ledger import CreditLedger
from application.billing.local_checkout import LocalCheckoutPages
from application.billing.offers import ListAddons, OfferCatalog, SubscriptionVariants
from application.billing.payment_ports import PaymentProvider
from application.billing.payments import PaymentEvents, Payments, ReconcileSubscriptions
from application.billing.plans import CreatePlan, DeletePlan, GetPlan, SeedDefaultPlans, UpdatePlan
from application.billing.subscriptions import (
    AdminChangeTenantSubscription,
    AdminGetTenantSubscription,
    BillingPolicy,
    PlanGrantSchedule,
)
from application.billing.usage import AdjustTenantCredits, AgentCreditUsage, GetTenantCurrentUsage
from application.common.ports import Clock, IdGenerator, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class BillingUseCases:
    policy: BillingPolicy
    ledger: CreditLedger
    create_plan: CreatePlan
    get_plan: GetPlan
    update_plan: UpdatePlan
    delete_plan: DeletePlan
    seed_default_plans: SeedDefaultPlans
    variants: SubscriptionVariants
    list_addons: ListAddons
    get_subscription: AdminGetTenantSubscription
    change_subscription: AdminChangeTenantSubscription
    current_usage: GetTenantCurrentUsage
    agent_credits: AgentCreditUsage
    adjust_credits: AdjustTenantCredits
    payments: Payments
    payment_events: PaymentEvents
    local_pages: LocalCheckoutPages
    return_url: str  # where the browser lands after paying or changing
    reconcile: ReconcileSubscriptions


def wire_billing(
    *,
    uow: UnitOfWorkFactory,
    clock: Clock,
    ids: IdGenerator,
    policy: BillingPolicy,
    agents: AgentCounter,
    payment_provider: Callable[[OfferCatalog], PaymentProvider],
    billing_return_url: str,
    offers: OfferCatalog | None = None,
) -> BillingUseCases:
    catalog = offers if offers is not None else OfferCatalog.bundled()
    ledger = CreditLedger(uow, ids, PlanGrantSchedule(policy))
    provider = payment_provider(catalog)
    events = PaymentEvents(uow, provider, ids, clock, policy)
    return BillingUseCases(
        policy=policy,
        ledger=ledger,
        create_plan=CreatePlan(uow, clock),
        get_plan=GetPlan(uow),
        update_plan=UpdatePlan(uow, clock),
        delete_plan=DeletePlan(uow),
        seed_default_plans=SeedDefaultPlans(uow, clock),
        variants=SubscriptionVariants(uow, catalog),
        list_addons=ListAddons(catalog),
        get_subscription=AdminGetTenantSubscription(uow, clock, policy),
        change_subscription=AdminChangeTenantSubscription(uow, clock, policy),
        current_usage=GetTenantCurrentUsage(uow, ids, clock, policy, agents),
        agent_credits=AgentCreditUsage(uow, ledger, clock, policy),
        adjust_credits=AdjustTenantCredits(uow, ledger, ids, clock),
        payments=Payments(uow, provider, catalog, ids, clock, policy, billing_return_url),
        payment_events=events,
        local_pages=LocalCheckoutPages(uow, provider, events, catalog, ids, clock, policy),
        return_url=billing_return_url,
        reconcile=ReconcileSubscriptions(uow, provider, ids, clock, policy),
    )
