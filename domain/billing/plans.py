"""Plans of the catalog: what each plan allows per period, and the enums of contract §1.6."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from domain.errors import InvalidArgument

UNLIMITED = -1
MAX_DESCRIPTION = 1000
MAX_CREDIT_EXTENSION_DAYS = 3660
E = TypeVar("E", bound=StrEnum)
_TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class Plan(StrEnum):
    FREE = "FREE"
    PRO = "PRO"
    BUSINESS = "BUSINESS"
    CUSTOM = "CUSTOM"
    NEW_USER_TRIAL = "NEW_USER_TRIAL"
    BYOA_USER_TRIAL = "BYOA_USER_TRIAL"


TRIAL_PLANS = frozenset({Plan.NEW_USER_TRIAL, Plan.BYOA_USER_TRIAL})


class Period(StrEnum):
    NOT_DEFINE = "NOT_DEFINE"
    MONTHLY = "MONTHLY"
    YEARLY = "YEARLY"


class SubscriptionStatus(StrEnum):
    NO_SUBSCRIPTION = "NO_SUBSCRIPTION"
    SUB_ACTIVE = "SUB_ACTIVE"
    SUB_DISABLE = "SUB_DISABLE"
    SUB_EXPIRED = "SUB_EXPIRED"


class UsageCategory(StrEnum):
    USAGE_CREDIT = "USAGE_CREDIT"
    USAGE_AI_AGENT = "USAGE_AI_AGENT"
    USAGE_INTEGRATION = "USAGE_INTEGRATION"
    USAGE_AGENT_KB = "USAGE_AGENT_KB"


@dataclass(frozen=True, slots=True)
class UsageConfig:
    """One limit of a plan: credits per period or a count of things; -1 means unlimited."""

    category: UsageCategory
    total_amount: int

    def __post_init__(self) -> None:
        if self.total_amount < UNLIMITED:
            raise InvalidArgument("total_amount", "must be -1 (unlimited) or at least 0")


@dataclass(slots=True)
class SubscriptionPlan:
    """A named plan; `plan_name` is a Plan name (not CUSTOM) or a tenant id for a CUSTOM plan."""

    plan_name: str
    description: str
    usage_configs: list[UsageConfig]
    credit_extension_days: int
    created_at: datetime
    updated_at: datetime

    def __post_init__(self) -> None:
        validate_plan_name(self.plan_name)
        validate_plan_terms(self.description, self.usage_configs, self.credit_extension_days)

    def limit(self, category: UsageCategory) -> int:
        """The plan's amount for `category`; a category the plan does not list allows nothing."""
        for config in self.usage_configs:
            if config.category is category:
                return config.total_amount
        return 0

    @property
    def credits_per_period(self) -> int:
        return max(self.limit(UsageCategory.USAGE_CREDIT), 0)

    def change_terms(
        self,
        description: str,
        usage_configs: list[UsageConfig],
        credit_extension_days: int,
        now: datetime,
    ) -> None:
        validate_plan_terms(description, usage_configs, credit_extension_days)
        self.description = description
        self.usage_configs = list(usage_configs)
        self.credit_extension_days = credit_extension_days
        self.updated_at = now


def is_standard_plan_name(name: str) -> bool:
    """True for a Plan name other than CUSTOM (those plans are named by tenant id)."""
    return name in Plan.__members__ and name != Plan.CUSTOM.value


def validate_plan_name(name: str) -> None:
    """A Plan name other than CUSTOM, or something shaped like a tenant id.

    Whether such a tenant exists is checked by the use case, which can see tenants.
    """
    if name == Plan.CUSTOM.value:
        raise InvalidArgument("plan_name", "CUSTOM plans are named by the tenant id")
    if is_standard_plan_name(name):
        return
    if not _TENANT_ID.fullmatch(name):
        raise InvalidArgument("plan_name", "must be a plan name or a tenant id")


def validate_plan_terms(
    description: str, usage_configs: list[UsageConfig], credit_extension_days: int
) -> None:
    if len(description) > MAX_DESCRIPTION:
        raise InvalidArgument("description", f"must be at most {MAX_DESCRIPTION} characters")
    if not 0 <= credit_extension_days <= MAX_CREDIT_EXTENSION_DAYS:
        raise InvalidArgument(
            "credit_extension", f"must be between 0 and {MAX_CREDIT_EXTENSION_DAYS} days"
        )
    seen: set[UsageCategory] = set()
    for config in usage_configs:
        if config.category in seen:
            raise InvalidArgument("config.usage_configs", f"{config.category} appears twice")
        seen.add(config.category)


def parse_enum(kind: type[E], raw: str, field_name: str, default: E) -> E:
    """Enum names as they travel (§1.3); empty means the default."""
    if not raw:
        return default
    try:
        return kind(raw.strip().upper())
    except ValueError:
        names = ", ".join(member.value for member in kind)
        raise InvalidArgument(field_name, f"must be one of {names}") from None


@dataclass(frozen=True, slots=True)
class _Default:
    name: Plan
    description: str
    credits: int
    agents: int
    integrations: int = UNLIMITED
    knowledge_bases: int = UNLIMITED
    extension_days: int = 0


_DEFAULTS = (
    _Default(Plan.FREE, "Free plan", credits=100, agents=1, integrations=1, knowledge_bases=1),
    _Default(Plan.NEW_USER_TRIAL, "New user trial", credits=200, agents=3),
    _Default(Plan.BYOA_USER_TRIAL, "Bring-your-own-agent trial", credits=200, agents=3),
    _Default(Plan.PRO, "Pro plan", credits=5_000, agents=3, extension_days=30),
    _Default(Plan.BUSINESS, "Business plan", credits=25_000, agents=UNLIMITED, extension_days=30),
)


def default_plans(now: datetime) -> list[SubscriptionPlan]:
    """The plans every installation starts with; seeding inserts only the missing ones."""
    return [
        SubscriptionPlan(
            plan_name=item.name.value,
            description=item.description,
            usage_configs=[
                UsageConfig(UsageCategory.USAGE_CREDIT, item.credits),
                UsageConfig(UsageCategory.USAGE_AI_AGENT, item.agents),
                UsageConfig(UsageCategory.USAGE_INTEGRATION, item.integrations),
                UsageConfig(UsageCategory.USAGE_AGENT_KB, item.knowledge_bases),
            ],
            credit_extension_days=item.extension_days,
            created_at=now,
            updated_at=now,
        )
        for item in _DEFAULTS
    ]
