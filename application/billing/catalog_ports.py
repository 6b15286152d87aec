"""Ports of the plan catalog and of tenants' subscriptions."""

from __future__ import annotations

from typing import Protocol

from domain.billing.plans import SubscriptionPlan
from domain.billing.subscriptions import Subscription


class PlanRepository(Protocol):
    async def get(self, plan_name: str) -> SubscriptionPlan | None: ...

    async def list(self) -> list[SubscriptionPlan]:
        """Every plan, ordered by name."""
        ...

    async def add(self, plan: SubscriptionPlan) -> None:
        """Raises `AlreadyExists` when the name is taken (the transaction stays usable)."""
        ...

    async def update(self, plan: SubscriptionPlan) -> None: ...

    async def delete(self, plan_name: str) -> bool:
        """False when there was no such plan."""
        ...

    async def is_in_use(self, plan_name: str) -> bool:
        """True while any tenant's subscription uses the plan (`Subscription.plan_name`)."""
        ...


class SubscriptionRepository(Protocol):
    async def get_for_tenant(self, tenant_id: str) -> Subscription | None: ...

    async def add(self, subscription: Subscription) -> None:
        """Raises `AlreadyExists` when the tenant already has a row (unique on tenant_id).

        The transaction stays usable (e.g. INSERT … ON CONFLICT DO NOTHING), so a caller that
        lost a race to materialize the row can read the winner's row and carry on.
        """
        ...

    async def update(self, subscription: Subscription) -> None: ...

    async def list_billed(
        self, provider: str, after_tenant_id: str, limit: int
    ) -> list[Subscription]:
        """Subscriptions `provider` bills, by tenant id after `after_tenant_id` (paging)."""
        ...


class AgentCounter(Protocol):
    """How many agents a tenant has (the USAGE_AI_AGENT used amount)."""

    async def count(self, tenant_id: str) -> int: ...
