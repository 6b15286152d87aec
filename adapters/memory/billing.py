"""In-process plan catalog and subscriptions, transactional like the other memory repositories."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from application.billing.catalog_ports import AgentCounter, PlanRepository, SubscriptionRepository
from domain.billing.plans import SubscriptionPlan
from domain.billing.subscriptions import Subscription
from domain.errors import AlreadyExists, NotFound


@dataclass
class CatalogStore:
    """Committed plans (by name) and subscriptions (by tenant id)."""

    plans: dict[str, SubscriptionPlan] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)


class _Pending:
    """One transaction's writes over a `CatalogStore`; `None` marks a deletion."""

    def __init__(self, store: CatalogStore) -> None:
        self.store = store
        self.plans: dict[str, SubscriptionPlan | None] = {}
        self.subscriptions: dict[str, Subscription | None] = {}
        self.added_subscriptions: set[str] = set()

    def plan(self, name: str) -> SubscriptionPlan | None:
        found = self.plans[name] if name in self.plans else self.store.plans.get(name)
        return copy.deepcopy(found)

    def subscription(self, tenant_id: str) -> Subscription | None:
        if tenant_id in self.subscriptions:
            found = self.subscriptions[tenant_id]
        else:
            found = self.store.subscriptions.get(tenant_id)
        return copy.deepcopy(found)

    def all_subscriptions(self) -> list[Subscription]:
        tenant_ids = set(self.store.subscriptions) | set(self.subscriptions)
        return [s for t in tenant_ids if (s := self.subscription(t)) is not None]

    def apply(self, deleted_tenants: set[str]) -> None:
        for tenant_id, subscription in self.subscriptions.items():
            if tenant_id in self.added_subscriptions and tenant_id in self.store.subscriptions:
                continue  # unique on tenant_id: the row committed first wins (ON CONFLICT)
            if subscription is None:
                self.store.subscriptions.pop(tenant_id, None)
            else:
                self.store.subscriptions[tenant_id] = subscription
        for name, plan in self.plans.items():
            if plan is None:
                self.store.plans.pop(name, None)
            else:
                self.store.plans[name] = plan
        for tenant_id in deleted_tenants:  # ON DELETE CASCADE
            self.store.subscriptions.pop(tenant_id, None)
        self.plans.clear()
        self.subscriptions.clear()
        self.added_subscriptions.clear()


class InMemoryPlanRepository(PlanRepository):
    def __init__(self, pending: _Pending) -> None:
        self._pending = pending

    async def get(self, plan_name: str) -> SubscriptionPlan | None:
        return self._pending.plan(plan_name)

    async def list(self) -> list[SubscriptionPlan]:
        names = set(self._pending.store.plans) | set(self._pending.plans)
        plans = [p for name in names if (p := self._pending.plan(name)) is not None]
        return sorted(plans, key=lambda p: p.plan_name)

    async def add(self, plan: SubscriptionPlan) -> None:
        if self._pending.plan(plan.plan_name) is not None:
            raise AlreadyExists(f"plan {plan.plan_name} already exists")
        self._pending.plans[plan.plan_name] = copy.deepcopy(plan)

    async def update(self, plan: SubscriptionPlan) -> None:
        if self._pending.plan(plan.plan_name) is None:
            raise NotFound(f"plan {plan.plan_name} not found")
        self._pending.plans[plan.plan_name] = copy.deepcopy(plan)

    async def delete(self, plan_name: str) -> bool:
        if self._pending.plan(plan_name) is None:
            return False
        self._pending.plans[plan_name] = None
        return True

    async def is_in_use(self, plan_name: str) -> bool:
        return any(s.plan_name == plan_name for s in self._pending.all_subscriptions())


class InMemorySubscriptionRepository(SubscriptionRepository):
    def __init__(self, pending: _Pending) -> None:
        self._pending = pending

    async def get_for_tenant(self, tenant_id: str) -> Subscription | None:
        return self._pending.subscription(tenant_id)

    async def list_billed(
        self, provider: str, after_tenant_id: str, limit: int
    ) -> list[Subscription]:
        billed = [
            s
            for s in self._pending.all_subscriptions()
            if s.provider == provider and s.subscription_ref and s.tenant_id > after_tenant_id
        ]
        return sorted(billed, key=lambda s: s.tenant_id)[:limit]

    async def add(self, subscription: Subscription) -> None:
        if self._pending.subscription(subscription.tenant_id) is not None:
            raise AlreadyExists("the tenant already has a subscription")
        self._pending.subscriptions[subscription.tenant_id] = copy.deepcopy(subscription)
        self._pending.added_subscriptions.add(subscription.tenant_id)

    async def update(self, subscription: Subscription) -> None:
        if self._pending.subscription(subscription.tenant_id) is None:
            raise NotFound("subscription not found")
        self._pending.subscriptions[subscription.tenant_id] = copy.deepcopy(subscription)


class InMemoryCatalog:
    """The catalog repositories of one unit of work, applied together at commit."""

    def __init__(self, store: CatalogStore) -> None:
        self._pending = _Pending(store)
        self.plans = InMemoryPlanRepository(self._pending)
        self.subscriptions = InMemorySubscriptionRepository(self._pending)

    def apply(self, deleted_tenants: set[str]) -> None:
        self._pending.apply(deleted_tenants)


class NoAgents(AgentCounter):
    """A tenant without agents, for billing tests that do not involve agents."""

    async def count(self, tenant_id: str) -> int:
        return 0
