"""Plan catalog administration (internal): create, read, update and delete plans."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from application.common.caller import Caller, CredentialKind
from application.common.ports import Clock, UnitOfWork, UnitOfWorkFactory
from domain.billing.plans import (
    Plan,
    SubscriptionPlan,
    UsageCategory,
    UsageConfig,
    default_plans,
    is_standard_plan_name,
    parse_enum,
    validate_plan_name,
)
from domain.errors import FailedPrecondition, InvalidArgument, NotFound, Unauthenticated

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class UsageConfigInput:
    category: str
    total_amount: int


@dataclass(frozen=True, slots=True)
class PlanTermsCommand:
    """Create (`plan_name` new) or update (`plan_name` existing) one plan."""

    caller: Caller
    plan_name: str
    description: str = ""
    usage_configs: list[UsageConfigInput] = field(default_factory=list)
    credit_extension: int = 0


def require_internal(caller: Caller) -> None:
    if caller.kind is not CredentialKind.INTERNAL:
        # The wrong kind of credential (§1.2), whatever the person's role.
        raise Unauthenticated("plan administration needs an internal key")


def parse_usage_configs(items: list[UsageConfigInput]) -> list[UsageConfig]:
    configs: list[UsageConfig] = []
    for index, item in enumerate(items):
        name = f"config.usage_configs[{index}]"
        if not item.category:
            raise InvalidArgument(f"{name}.category", "is required")
        category = parse_enum(
            UsageCategory, item.category, f"{name}.category", UsageCategory.USAGE_CREDIT
        )
        if item.total_amount < -1:
            raise InvalidArgument(f"{name}.total_amount", "must be -1 (unlimited) or at least 0")
        configs.append(UsageConfig(category, item.total_amount))
    return configs


async def _check_name(uow: UnitOfWork, plan_name: str) -> None:
    validate_plan_name(plan_name)
    if not is_standard_plan_name(plan_name) and await uow.tenants.get(plan_name) is None:
        raise InvalidArgument("plan_name", "must be a plan name or an existing tenant id")


async def plan_for(uow: UnitOfWork, plan_name: str) -> SubscriptionPlan:
    """The catalog row; a standard plan missing from storage falls back to its default."""
    plan = await uow.plans.get(plan_name)
    if plan is not None:
        return plan
    for default in default_plans(_EPOCH):
        if default.plan_name == plan_name:
            return default
    raise FailedPrecondition(f"plan {plan_name} is not configured")


class CreatePlan:
    """A new plan. Internal only; the name is a Plan name (not CUSTOM) or an existing tenant id.

    Taken name → `AlreadyExists`; bad name, config or credit_extension → `InvalidArgument`.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow_factory
        self._clock = clock

    async def __call__(self, command: PlanTermsCommand) -> SubscriptionPlan:
        require_internal(command.caller)
        now = self._clock.now()
        configs = parse_usage_configs(command.usage_configs)
        async with self._uow() as uow:
            await _check_name(uow, command.plan_name)
            plan = SubscriptionPlan(
                plan_name=command.plan_name,
                description=command.description,
                usage_configs=configs,
                credit_extension_days=command.credit_extension,
                created_at=now,
                updated_at=now,
            )
            await uow.plans.add(plan)
            await uow.commit()
        return plan


class GetPlan:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    async def __call__(self, caller: Caller, plan_name: str) -> SubscriptionPlan:
        require_internal(caller)
        async with self._uow() as uow:
            plan = await uow.plans.get(plan_name)
        if plan is None:
            raise NotFound(f"plan {plan_name} not found")
        return plan


class UpdatePlan:
    """Replace a plan's description, usage configs and credit extension (all of them)."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow_factory
        self._clock = clock

    async def __call__(self, command: PlanTermsCommand) -> SubscriptionPlan:
        require_internal(command.caller)
        configs = parse_usage_configs(command.usage_configs)
        async with self._uow() as uow:
            plan = await uow.plans.get(command.plan_name)
            if plan is None:
                raise NotFound(f"plan {command.plan_name} not found")
            plan.change_terms(
                command.description, configs, command.credit_extension, self._clock.now()
            )
            await uow.plans.update(plan)
            await uow.commit()
        return plan


# Every new tenant starts on the trial and every ended trial falls to FREE, including tenants
# whose subscription row is not stored yet: these two are always in use.
ALWAYS_IN_USE = frozenset({Plan.NEW_USER_TRIAL.value, Plan.FREE.value})


class DeletePlan:
    """Remove a plan; refused (`FailedPrecondition`) while any tenant is on it.

    NEW_USER_TRIAL and FREE are always refused (see `ALWAYS_IN_USE`).
    """

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    async def __call__(self, caller: Caller, plan_name: str) -> None:
        require_internal(caller)
        async with self._uow() as uow:
            if await uow.plans.get(plan_name) is None:
                raise NotFound(f"plan {plan_name} not found")
            if plan_name in ALWAYS_IN_USE or await uow.plans.is_in_use(plan_name):
                raise FailedPrecondition(f"plan {plan_name} is in use by a tenant")
            await uow.plans.delete(plan_name)
            await uow.commit()


class SeedDefaultPlans:
    """Insert the default plans that are missing; existing ones are left as operators set them."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow_factory
        self._clock = clock

    async def __call__(self) -> list[str]:
        added: list[str] = []
        async with self._uow() as uow:
            for plan in default_plans(self._clock.now()):
                if await uow.plans.get(plan.plan_name) is None:
                    await uow.plans.add(plan)
                    added.append(plan.plan_name)
            await uow.commit()
        return added
