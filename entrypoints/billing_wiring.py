"""Wires the plan, subscription, ledger and usage use cases to the adapters the root picked."""

from __future__ import annotations

from dataclasses import dataclass

from application.billing.catalog_ports import AgentCounter
from application.billing.ledger import CreditLedger
from application.billing.offers import ListAddons, OfferCatalog, SubscriptionVariants
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


def wire_billing(
    *,
    uow: UnitOfWorkFactory,
    clock: Clock,
    ids: IdGenerator,
    policy: BillingPolicy,
    agents: AgentCounter,
    offers: OfferCatalog | None = None,
) -> BillingUseCases:
    catalog = offers if offers is not None else OfferCatalog.bundled()
    ledger = CreditLedger(uow, ids, PlanGrantSchedule(policy))
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
    )
