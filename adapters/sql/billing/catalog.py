"""SQL plan catalog and per-tenant subscriptions."""

from __future__ import annotations

from sqlalchemy import Table, and_, delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.billing.catalog_records import (
    SubscriptionPlanRecord,
    SubscriptionRecord,
    plan_to_domain,
    plan_to_row,
    subscription_to_domain,
    subscription_to_row,
)
from adapters.sql.billing.statements import insert_unless_present, rowcount
from adapters.sql.errors import translate_unavailable
from application.billing.catalog_ports import PlanRepository, SubscriptionRepository
from domain.billing.plans import Plan, SubscriptionPlan
from domain.billing.subscriptions import Subscription
from domain.errors import AlreadyExists, NotFound

# Core tables: rows are mapped straight to domain objects, never kept in an identity map.
_PLANS: Table = SubscriptionPlanRecord.__table__  # type: ignore[assignment]
_SUBSCRIPTIONS: Table = SubscriptionRecord.__table__  # type: ignore[assignment]
_CUSTOM = Plan.CUSTOM.value


class SqlPlanRepository(PlanRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @translate_unavailable
    async def get(self, plan_name: str) -> SubscriptionPlan | None:
        row = (
            await self._session.execute(select(_PLANS).where(_PLANS.c.plan_name == plan_name))
        ).first()
        return plan_to_domain(row) if row is not None else None

    @translate_unavailable
    async def list(self) -> list[SubscriptionPlan]:
        rows = await self._session.execute(select(_PLANS).order_by(_PLANS.c.plan_name))
        return [plan_to_domain(row) for row in rows]

    @translate_unavailable
    async def add(self, plan: SubscriptionPlan) -> None:
        if not await insert_unless_present(self._session, _PLANS, plan_to_row(plan)):
            raise AlreadyExists("plan already exists")

    @translate_unavailable
    async def update(self, plan: SubscriptionPlan) -> None:
        values = plan_to_row(plan)
        del values["plan_name"], values["created_at"]
        result = await self._session.execute(
            update(_PLANS).where(_PLANS.c.plan_name == plan.plan_name).values(values)
        )
        if rowcount(result) != 1:
            raise NotFound("plan not found")

    @translate_unavailable
    async def delete(self, plan_name: str) -> bool:
        result = await self._session.execute(delete(_PLANS).where(_PLANS.c.plan_name == plan_name))
        return rowcount(result) == 1

    @translate_unavailable
    async def is_in_use(self, plan_name: str) -> bool:
        # A CUSTOM plan is named by its tenant's id; every other plan by its Plan name.
        on_plan = or_(
            and_(_SUBSCRIPTIONS.c.plan == plan_name, _SUBSCRIPTIONS.c.plan != _CUSTOM),
            and_(_SUBSCRIPTIONS.c.plan == _CUSTOM, _SUBSCRIPTIONS.c.tenant_id == plan_name),
        )
        return bool(await self._session.scalar(select(exists().where(on_plan))))


class SqlSubscriptionRepository(SubscriptionRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @translate_unavailable
    async def get_for_tenant(self, tenant_id: str) -> Subscription | None:
        row = (
            await self._session.execute(
                select(_SUBSCRIPTIONS).where(_SUBSCRIPTIONS.c.tenant_id == tenant_id)
            )
        ).first()
        return subscription_to_domain(row) if row is not None else None

    @translate_unavailable
    async def add(self, subscription: Subscription) -> None:
        row = subscription_to_row(subscription)
        if not await insert_unless_present(self._session, _SUBSCRIPTIONS, row):
            raise AlreadyExists("tenant already has a subscription")

    @translate_unavailable
    async def update(self, subscription: Subscription) -> None:
        values = subscription_to_row(subscription)
        del values["tenant_id"]
        result = await self._session.execute(
            update(_SUBSCRIPTIONS)
            .where(_SUBSCRIPTIONS.c.tenant_id == subscription.tenant_id)
            .values(values)
        )
        if rowcount(result) != 1:
            raise NotFound("subscription not found")

    @translate_unavailable
    async def list_billed(
        self, provider: str, after_tenant_id: str, limit: int
    ) -> list[Subscription]:
        rows = await self._session.execute(
            select(_SUBSCRIPTIONS)
            .where(
                _SUBSCRIPTIONS.c.provider == provider,
                _SUBSCRIPTIONS.c.subscription_ref != "",
                _SUBSCRIPTIONS.c.tenant_id > after_tenant_id,
            )
            .order_by(_SUBSCRIPTIONS.c.tenant_id)
            .limit(limit)
        )
        return [subscription_to_domain(row) for row in rows]
