"""Usage reads of contract §5 (credits, agents, per-agent credits) and operator adjustments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from application.billing.catalog_ports import AgentCounter
from application.billing.ledger import CreditLedger, ensure_grants
from application.billing.plans import plan_for, require_internal
from application.billing.subscriptions import (
    BillingPolicy,
    due_grant_specs,
    load_subscription,
)
from application.common.caller import Caller
from application.common.ports import Clock, IdGenerator, UnitOfWork, UnitOfWorkFactory
from application.tenancy.access import authorize
from application.tenancy.api_keys import parse_expiry
from domain.billing.plans import UsageCategory
from domain.billing.subscriptions import PeriodWindow
from domain.errors import InvalidArgument, NotFound
from domain.tenancy.policy import Action


@dataclass(frozen=True, slots=True)
class UsageLine:
    """One UsageConfig of GetTenantCurrentUsage; `total_amount` -1 means unlimited."""

    category: UsageCategory
    total_amount: int
    used_amount: int
    expiration_time: datetime | None


async def _readable_tenant(uow: UnitOfWork, caller: Caller, tenant_id: str) -> str:
    """TOKEN/API_KEY of that tenant (with `usage:read`), or INTERNAL; unknown tenant → 5."""
    access = await authorize(uow, caller, Action.READ_USAGE, tenant_id)
    if await uow.tenants.get(access.tenant_id) is None:
        raise NotFound("tenant not found")
    return access.tenant_id


class GetTenantCurrentUsage:
    """The tenant's plan limits against what it uses now.

    - USAGE_CREDIT: total = credits of the grants active now (this period's, carried-over and
      extra ones), used = total minus what is left, expiration_time = when this period's plan
      credits expire.
    - USAGE_AI_AGENT: the plan's limit against the agent count (`AgentCounter`).
    - Other categories: the plan's amount, nothing used yet.
    Due grants are added on the way (exactly once), so a new tenant sees its trial credits.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        ids: IdGenerator,
        clock: Clock,
        policy: BillingPolicy,
        agents: AgentCounter,
    ) -> None:
        self._uow = uow_factory
        self._ids = ids
        self._clock = clock
        self._policy = policy
        self._agents = agents

    async def __call__(self, caller: Caller, tenant_id: str) -> list[UsageLine]:
        now = self._clock.now()
        async with self._uow() as uow:
            tenant_id = await _readable_tenant(uow, caller, tenant_id)
            subscription = await load_subscription(uow, tenant_id, now, self._policy)
            plan = await plan_for(uow, subscription.plan_name)
            specs = due_grant_specs(subscription, plan, now)
            await ensure_grants(uow, self._ids, tenant_id, specs, now)
            grants = await uow.ledger.active_grants(tenant_id, now)
            # Not the grants' `remaining`: credits drawn into allowances are unused too.
            left = await uow.ledger.balance(tenant_id, now)
            await uow.commit()
        granted = sum(grant.amount for grant in grants)
        expires = specs[0].expires_at if specs else subscription.credit_period(now).end
        agent_count = await self._agents.count(tenant_id)
        lines = [
            UsageLine(UsageCategory.USAGE_CREDIT, granted, granted - left, expires),
            UsageLine(
                UsageCategory.USAGE_AI_AGENT,
                plan.limit(UsageCategory.USAGE_AI_AGENT),
                agent_count,
                subscription.end_at,
            ),
        ]
        for category in (UsageCategory.USAGE_INTEGRATION, UsageCategory.USAGE_AGENT_KB):
            lines.append(UsageLine(category, plan.limit(category), 0, subscription.end_at))
        return lines


@dataclass(frozen=True, slots=True)
class AgentCreditsQuery:
    caller: Caller
    tenant_id: str
    agent_ids: list[str] = field(default_factory=list)  # empty = every agent with usage


class AgentCreditUsage:
    """ListTenantAgentsCreditUsage and GetTenantAgentCreditUsage: credits settled per agent in
    the tenant's current credit period (the trial, or the current month)."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        ledger: CreditLedger,
        clock: Clock,
        policy: BillingPolicy,
    ) -> None:
        self._uow = uow_factory
        self._ledger = ledger
        self._clock = clock
        self._policy = policy

    async def _window(
        self, caller: Caller, tenant_id: str, now: datetime
    ) -> tuple[str, PeriodWindow]:
        async with self._uow() as uow:
            tenant_id = await _readable_tenant(uow, caller, tenant_id)
            subscription = await load_subscription(uow, tenant_id, now, self._policy)
            await uow.commit()
        return tenant_id, subscription.credit_period(now)

    async def list(self, query: AgentCreditsQuery) -> dict[str, int]:
        now = self._clock.now()
        tenant_id, window = await self._window(query.caller, query.tenant_id, now)
        used = await self._ledger.usage_by_agent(tenant_id, window.start, window.end)
        if not query.agent_ids:
            return used
        return {agent_id: used.get(agent_id, 0) for agent_id in query.agent_ids}

    async def get(self, caller: Caller, tenant_id: str, agent_id: str) -> int:
        if not agent_id:
            raise InvalidArgument("agent_id", "is required")
        credits = await self.list(AgentCreditsQuery(caller, tenant_id, [agent_id]))
        return credits[agent_id]


@dataclass(frozen=True, slots=True)
class AdjustCreditsCommand:
    """`key` makes the adjustment idempotent (e.g. the request's Idempotency-Key)."""

    caller: Caller
    tenant_id: str
    amount: int
    reason: str
    expires_at: str = ""  # RFC 3339; empty = never
    key: str = ""


class AdjustTenantCredits:
    """AdjustTenantCredits (internal): add credits, or take some away (never below zero →
    `FailedPrecondition` when the balance is smaller). Returns the balance usable now."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        ledger: CreditLedger,
        ids: IdGenerator,
        clock: Clock,
    ) -> None:
        self._uow = uow_factory
        self._ledger = ledger
        self._ids = ids
        self._clock = clock

    async def __call__(self, command: AdjustCreditsCommand) -> int:
        require_internal(command.caller)
        if len(command.reason) > 500:
            raise InvalidArgument("reason", "must be at most 500 characters")
        async with self._uow() as uow:
            if await uow.tenants.get(command.tenant_id) is None:
                raise NotFound("tenant not found")
        now = self._clock.now()
        expires_at = parse_expiry(command.expires_at, now)
        key = command.key or self._ids.new_id()
        return await self._ledger.adjust(
            command.tenant_id, command.amount, command.reason, expires_at, key, now
        )
