"""Billing use cases over the in-memory store, with a fixed clock and seeded default plans."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from adapters.memory.billing import NoAgents
from adapters.memory.uow import InMemoryStore, InMemoryUnitOfWorkFactory
from adapters.payments.local import LocalPaymentProvider
from application.billing.subscriptions import BillingPolicy
from application.common.caller import Caller
from domain.billing.plans import default_plans
from domain.tenancy.models import Role
from entrypoints.billing_wiring import BillingUseCases, wire_billing
from tests.fakes.clock import FixedClock
from tests.fakes.factories import make_membership, make_tenant, make_user
from tests.fakes.ids import SequentialIds

TRIAL_DAYS = 14
INTERNAL = Caller.internal()


@dataclass
class CatalogKit:
    clock: FixedClock = field(default_factory=FixedClock)
    store: InMemoryStore = field(default_factory=InMemoryStore)

    def __post_init__(self) -> None:
        self.uow = InMemoryUnitOfWorkFactory(self.store)
        self.billing: BillingUseCases = wire_billing(
            uow=self.uow,
            clock=self.clock,
            ids=SequentialIds("grant"),
            policy=BillingPolicy(trial_days=TRIAL_DAYS),
            agents=NoAgents(),
            payment_provider=lambda catalog: LocalPaymentProvider(
                self.uow, self.clock, catalog, "http://astra.test", "page-secret"
            ),
            billing_return_url="http://app.test/billing",
        )
        for plan in default_plans(self.clock.now()):
            self.store.catalog.plans[plan.plan_name] = plan

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def tenant_with_member(self, role: Role = Role.OWNER) -> tuple[str, Caller]:
        """A tenant created now, and a signed-in member of it."""
        tenant = make_tenant(created_at=self.now)
        user = make_user(current_tenant_id=tenant.id)
        self.store.tenants[tenant.id] = tenant
        self.store.users[user.id] = user
        membership = make_membership(tenant_id=tenant.id, user_id=user.id, role=role)
        self.store.memberships[(tenant.id, user.id)] = membership
        return tenant.id, Caller.token(user.id, "session-1")

    async def usage(self, tenant_id: str) -> dict[str, tuple[int, int]]:
        """category → (total, used)."""
        lines = await self.billing.current_usage(INTERNAL, tenant_id)
        return {line.category.value: (line.total_amount, line.used_amount) for line in lines}
