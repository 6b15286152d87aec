"""Agents use cases over the in-memory store, with a fixed clock and seeded default plans."""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.memory.agents import InMemoryAgentReader
from adapters.memory.uow import InMemoryStore, InMemoryUnitOfWorkFactory
from application.agents.commands import CreateAgentCommand
from application.billing.subscriptions import BillingPolicy
from application.common.caller import Caller
from domain.agents.models import Agent
from domain.billing.plans import default_plans
from domain.tenancy.models import Role
from domain.tenancy.policy import Scope
from entrypoints.agents_wiring import AgentUseCases, wire_agents
from tests.fakes.clock import FixedClock
from tests.fakes.factories import make_membership, make_tenant, make_user
from tests.fakes.ids import SequentialIds

TRIAL_DAYS = 14


@dataclass
class AgentsKit:
    clock: FixedClock = field(default_factory=FixedClock)
    store: InMemoryStore = field(default_factory=InMemoryStore)

    def __post_init__(self) -> None:
        self.uow = InMemoryUnitOfWorkFactory(self.store)
        self.use: AgentUseCases = wire_agents(
            uow=self.uow,
            clock=self.clock,
            ids=SequentialIds("agents"),
            reader=InMemoryAgentReader(self.store.agents),
            billing_policy=BillingPolicy(trial_days=TRIAL_DAYS),
        )
        for plan in default_plans(self.clock.now()):
            self.store.catalog.plans[plan.plan_name] = plan

    def tenant(self) -> str:
        tenant = make_tenant(created_at=self.clock.now())
        self.store.tenants[tenant.id] = tenant
        return tenant.id

    def member(self, tenant_id: str, role: Role = Role.OWNER) -> Caller:
        """A signed-in member of `tenant_id`, acting in it."""
        user = make_user(current_tenant_id=tenant_id)
        self.store.users[user.id] = user
        membership = make_membership(tenant_id=tenant_id, user_id=user.id, role=role)
        self.store.memberships[(tenant_id, user.id)] = membership
        return Caller.token(user.id, "session-1")

    def owner(self) -> tuple[str, Caller]:
        tenant_id = self.tenant()
        return tenant_id, self.member(tenant_id)

    @staticmethod
    def key(tenant_id: str, *scopes: Scope) -> Caller:
        return Caller.api_key(tenant_id, "key-1", frozenset(scopes))

    async def agent(self, caller: Caller, template_id: str = "faq-assistant", **body: str) -> Agent:
        return await self.use.create(
            CreateAgentCommand(caller=caller, template_id=template_id, **body)  # type: ignore[arg-type]
        )
