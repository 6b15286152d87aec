"""Billing endpoints (contract §3 subscriptions/add-ons, §5 UsageService): thin translation."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody

from application.billing.offers import ListVariantsQuery
from application.billing.payments import AddonPurchaseInput
from application.billing.plans import PlanTermsCommand
from application.billing.subscriptions import ChangeSubscriptionCommand
from application.billing.usage import AdjustCreditsCommand, AgentCreditsQuery
from entrypoints.http.billing.schemas import (
    AddonBody,
    AddonListResponse,
    AddonsPurchaseRequest,
    AdjustCreditsRequest,
    AgentCreditResponse,
    AgentCreditsRequest,
    AgentCreditsResponse,
    BalanceResponse,
    ChangeSubscriptionRequest,
    CreatePlanRequest,
    CreateSubscriptionRequest,
    CurrentUsageResponse,
    PlanBody,
    PlanResponse,
    RedirectResponse,
    SubscriptionBody,
    SubscriptionResponse,
    UpdatePlanRequest,
    UpdateSubscriptionRequest,
    UsageConfigBody,
    UsageConfigsBody,
    VariantBody,
    VariantListResponse,
    VariantResponse,
)
from entrypoints.http.conventions import EmptyResponse, i64
from entrypoints.http.dependencies import ANY_CREDENTIAL, INTERNAL_CREDENTIAL, CallerDep, Deps


class SubscriptionVariantController(Controller):
    path = "/account/v1"
    tags = ["AccountService"]
    dependencies = ANY_CREDENTIAL

    @get("/subscription/variants", operation_id="SubscriptionVariantList")
    async def list_variants(
        self,
        container: Deps,
        caller: CallerDep,
        period: FromQuery[str] = "",
        plan: FromQuery[str] = "",
    ) -> VariantListResponse:
        variants = await container.billing.variants.list(
            ListVariantsQuery(caller=caller, period=period, plan=plan)
        )
        return VariantListResponse(variants=[VariantBody.of(v) for v in variants])

    @get("/subscription/variants/{variant_id:str}", operation_id="SubscriptionVariantGet")
    async def get_variant(
        self, variant_id: FromPath[str], container: Deps, caller: CallerDep
    ) -> VariantResponse:
        variant = await container.billing.variants.get(caller, variant_id)
        return VariantResponse(variant=VariantBody.of(variant))

    @get("/addons", operation_id="AddonsList")
    async def list_addons(self, container: Deps, caller: CallerDep) -> AddonListResponse:
        addons = await container.billing.list_addons(caller)
        return AddonListResponse(variants=[AddonBody.of(a) for a in addons])


class AdminSubscriptionController(Controller):
    path = "/account/internal/v1/tenants"
    tags = ["AccountService"]
    dependencies = INTERNAL_CREDENTIAL

    @get("/{tenant_id:str}/subscription", operation_id="AdminGetTenantSubscription")
    async def get_subscription(
        self, tenant_id: FromPath[str], container: Deps, caller: CallerDep
    ) -> SubscriptionResponse:
        subscription = await container.billing.get_subscription(caller, tenant_id)
        return SubscriptionResponse(subscription=SubscriptionBody.of(subscription))

    @put("/{tenant_id:str}/subscription", operation_id="AdminChangeTenantSubscription")
    async def change_subscription(
        self,
        tenant_id: FromPath[str],
        data: JSONBody[ChangeSubscriptionRequest],
        container: Deps,
        caller: CallerDep,
    ) -> SubscriptionResponse:
        subscription = await container.billing.change_subscription(
            ChangeSubscriptionCommand(
                caller=caller, tenant_id=tenant_id, new_end_at=data.new_end_at
            )
        )
        return SubscriptionResponse(subscription=SubscriptionBody.of(subscription))


class PlanController(Controller):
    path = "/usage/internal/v1/plans"
    tags = ["UsageService"]
    dependencies = INTERNAL_CREDENTIAL

    @post("", operation_id="CreateSubscriptionPlan", status_code=200)
    async def create_plan(
        self, data: JSONBody[CreatePlanRequest], container: Deps, caller: CallerDep
    ) -> PlanResponse:
        plan = await container.billing.create_plan(
            PlanTermsCommand(
                caller=caller,
                plan_name=data.plan_name,
                description=data.description,
                usage_configs=data.config.to_inputs() if data.config else [],
                credit_extension=data.credit_extension,
            )
        )
        return PlanResponse(plan=PlanBody.of(plan))

    @get("/{plan_name:str}", operation_id="GetSubscriptionPlan")
    async def get_plan(
        self, plan_name: FromPath[str], container: Deps, caller: CallerDep
    ) -> PlanResponse:
        plan = await container.billing.get_plan(caller, plan_name)
        return PlanResponse(plan=PlanBody.of(plan))

    @put("/{plan_name:str}", operation_id="UpdateSubscriptionPlan")
    async def update_plan(
        self,
        plan_name: FromPath[str],
        data: JSONBody[UpdatePlanRequest],
        container: Deps,
        caller: CallerDep,
    ) -> PlanResponse:
        plan = await container.billing.update_plan(
            PlanTermsCommand(
                caller=caller,
                plan_name=plan_name,
                description=data.description,
                usage_configs=data.config.to_inputs() if data.config else [],
                credit_extension=data.credit_extension,
            )
        )
        return PlanResponse(plan=PlanBody.of(plan))

    @delete("/{plan_name:str}", operation_id="DeleteSubscriptionPlan", status_code=200)
    async def delete_plan(
        self, plan_name: FromPath[str], container: Deps, caller: CallerDep
    ) -> EmptyResponse:
        await container.billing.delete_plan(caller, plan_name)
        return EmptyResponse()


class UsageController(Controller):
    path = "/usage/v1/tenants"
    tags = ["UsageService"]
    dependencies = ANY_CREDENTIAL

    @post(
        "/{tenant_id:str}/agents/credits",
        operation_id="ListTenantAgentsCreditUsage",
        status_code=200,
    )
    async def list_agent_credits(
        self,
        tenant_id: FromPath[str],
        data: JSONBody[AgentCreditsRequest],
        container: Deps,
        caller: CallerDep,
    ) -> AgentCreditsResponse:
        credits = await container.billing.agent_credits.list(
            AgentCreditsQuery(caller=caller, tenant_id=tenant_id, agent_ids=data.agent_ids)
        )
        return AgentCreditsResponse(agent_credits={k: i64(v) for k, v in credits.items()})

    @get("/{tenant_id:str}/agents/{agent_id:str}/credits", operation_id="GetTenantAgentCreditUsage")
    async def get_agent_credits(
        self, tenant_id: FromPath[str], agent_id: FromPath[str], container: Deps, caller: CallerDep
    ) -> AgentCreditResponse:
        credits = await container.billing.agent_credits.get(caller, tenant_id, agent_id)
        return AgentCreditResponse(credits=i64(credits))

    @get("/{tenant_id:str}/usage", operation_id="GetTenantCurrentUsage")
    async def current_usage(
        self, tenant_id: FromPath[str], container: Deps, caller: CallerDep
    ) -> CurrentUsageResponse:
        lines = await container.billing.current_usage(caller, tenant_id)
        return CurrentUsageResponse(
            config=UsageConfigsBody([UsageConfigBody.of_line(line) for line in lines])
        )


class InternalCreditsController(Controller):
    path = "/usage/internal/v1/tenants"
    tags = ["UsageService"]
    dependencies = INTERNAL_CREDENTIAL

    @post("/{tenant_id:str}/credits", operation_id="AdjustTenantCredits", status_code=200)
    async def adjust_credits(
        self,
        tenant_id: FromPath[str],
        data: JSONBody[AdjustCreditsRequest],
        container: Deps,
        caller: CallerDep,
        idempotency_key: Annotated[str, HeaderParameter(name="Idempotency-Key")] = "",
    ) -> BalanceResponse:
        balance = await container.billing.adjust_credits(
            AdjustCreditsCommand(
                caller=caller,
                tenant_id=tenant_id,
                amount=data.amount,
                reason=data.reason,
                expires_at=data.expires_at,
                key=idempotency_key,
            )
        )
        return BalanceResponse(balance=i64(balance))


class SubscriptionController(Controller):
    """Paying (owners; §7): checkout, plan change, portal, add-ons; and what is paid for."""

    path = "/account/v1"
    tags = ["AccountService"]
    dependencies = ANY_CREDENTIAL

    @get("/subscription", operation_id="GetSubscription")
    async def get_subscription(self, container: Deps, caller: CallerDep) -> SubscriptionResponse:
        subscription = await container.billing.payments.current(caller)
        return SubscriptionResponse(subscription=SubscriptionBody.of(subscription))

    @post("/subscription", operation_id="CreateSubscription", status_code=200)
    async def create_subscription(
        self, data: JSONBody[CreateSubscriptionRequest], container: Deps, caller: CallerDep
    ) -> RedirectResponse:
        url = await container.billing.payments.create_subscription(caller, data.id)
        return RedirectResponse(redirect_url=url)

    @put("/subscription", operation_id="UpdateSubscription")
    async def update_subscription(
        self, data: JSONBody[UpdateSubscriptionRequest], container: Deps, caller: CallerDep
    ) -> RedirectResponse:
        url = await container.billing.payments.update_subscription(caller, data.new_id)
        return RedirectResponse(redirect_url=url)

    @get("/subscription/portal", operation_id="TenantPortal")
    async def portal(self, container: Deps, caller: CallerDep) -> RedirectResponse:
        return RedirectResponse(redirect_url=await container.billing.payments.portal(caller))

    @post("/addons/purchase", operation_id="AddonsPurchase", status_code=200)
    async def buy_addons(
        self, data: JSONBody[AddonsPurchaseRequest], container: Deps, caller: CallerDep
    ) -> RedirectResponse:
        purchases = [AddonPurchaseInput(p.id, p.quantity) for p in data.purchases]
        url = await container.billing.payments.buy_addons(caller, purchases)
        return RedirectResponse(redirect_url=url)


class PaymentWebhookController(Controller):
    """The payment provider's signed events; the signature is the only credential."""

    path = "/account/v1/billing"
    tags = ["AccountService"]

    @post("/webhook", operation_id="PaymentWebhook", status_code=200)
    async def webhook(
        self,
        request: Request[Any, Any, Any],
        container: Deps,
        stripe_signature: Annotated[str, HeaderParameter(name="Stripe-Signature")] = "",
    ) -> EmptyResponse:
        # The raw bytes: the signature covers them exactly as sent.
        await container.billing.payment_events.receive(await request.body(), stripe_signature)
        return EmptyResponse()
