"""The priced offers (subscription variants and add-on packs) from the versioned `offers.json`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from application.common.caller import Caller
from application.common.ports import UnitOfWorkFactory
from application.tenancy.access import require_user
from domain.billing.plans import Period, Plan, UsageConfig, parse_enum
from domain.errors import NotFound

SUPPORTED_VERSION = 1


@dataclass(frozen=True, slots=True)
class Offer:
    """A subscription variant as priced in the file; `amount` in the currency's minor units."""

    id: str
    plan: Plan
    period: Period
    name: str
    description: str
    amount: int
    currency: str
    credits: int
    trial_days: int


@dataclass(frozen=True, slots=True)
class Addon:
    id: str
    name: str
    description: str
    amount: int
    currency: str
    credits: int


@dataclass(frozen=True, slots=True)
class Variant:
    """An offer with the usage configs of its plan as the catalog holds them now."""

    offer: Offer
    usage_configs: list[UsageConfig]


@dataclass(frozen=True, slots=True)
class OfferCatalog:
    version: int
    variants: list[Offer]
    addons: list[Addon]

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> OfferCatalog:
        version = int(raw["version"])
        if version != SUPPORTED_VERSION:
            raise ValueError(f"offers file version {version} is not supported")
        currency = str(raw["currency"])
        variants = [
            Offer(
                id=str(item["id"]),
                plan=Plan(item["plan"]),
                period=Period(item["period"]),
                name=str(item["name"]),
                description=str(item["description"]),
                amount=int(item["amount"]),
                currency=str(item.get("currency", currency)),
                credits=int(item["credits"]),
                trial_days=int(item["trial_days"]),
            )
            for item in raw["variants"]
        ]
        addons = [
            Addon(
                id=str(item["id"]),
                name=str(item["name"]),
                description=str(item["description"]),
                amount=int(item["amount"]),
                currency=str(item.get("currency", currency)),
                credits=int(item["credits"]),
            )
            for item in raw["addons"]
        ]
        return cls(version, variants, addons)

    @classmethod
    def bundled(cls) -> OfferCatalog:
        text = resources.files("application.billing").joinpath("offers.json").read_text("utf-8")
        return cls.parse(json.loads(text))


@dataclass(frozen=True, slots=True)
class ListVariantsQuery:
    caller: Caller
    period: str = ""  # empty / NOT_DEFINE = every period
    plan: str = ""  # empty = FREE


class SubscriptionVariants:
    """SubscriptionVariantList and SubscriptionVariantGet (signed-in people only)."""

    def __init__(self, uow_factory: UnitOfWorkFactory, catalog: OfferCatalog) -> None:
        self._uow = uow_factory
        self._catalog = catalog

    async def _with_configs(self, offers: list[Offer]) -> list[Variant]:
        variants: list[Variant] = []
        async with self._uow() as uow:
            for offer in offers:
                plan = await uow.plans.get(offer.plan.value)
                variants.append(Variant(offer, list(plan.usage_configs) if plan else []))
        return variants

    async def list(self, query: ListVariantsQuery) -> list[Variant]:
        require_user(query.caller)
        period = parse_enum(Period, query.period, "period", Period.NOT_DEFINE)
        plan = parse_enum(Plan, query.plan, "plan", Plan.FREE)
        offers = [
            offer
            for offer in self._catalog.variants
            if offer.plan is plan and period in (Period.NOT_DEFINE, offer.period)
        ]
        return await self._with_configs(offers)

    async def get(self, caller: Caller, variant_id: str) -> Variant:
        require_user(caller)
        for offer in self._catalog.variants:
            if offer.id == variant_id:
                return (await self._with_configs([offer]))[0]
        raise NotFound("variant not found")


class ListAddons:
    """AddonsList: the credit packs on sale (signed-in people only)."""

    def __init__(self, catalog: OfferCatalog) -> None:
        self._catalog = catalog

    async def __call__(self, caller: Caller) -> list[Addon]:
        require_user(caller)
        return list(self._catalog.addons)
