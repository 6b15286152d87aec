"""A credit ledger over the in-memory unit of work, with a fixed clock and sequential ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from adapters.memory.uow import InMemoryStore, InMemoryUnitOfWorkFactory
from application.billing.ledger import CreditLedger
from application.billing.ledger_ports import GrantSchedule, PeriodicGrantSchedule
from application.common.ports import UnitOfWork
from domain.billing.ledger import CreditGrant, GrantSource, GrantSpec, Reservation
from tests.fakes.clock import FixedClock
from tests.fakes.ids import SequentialIds

TENANT = "tenant-1"
OTHER_TENANT = "tenant-2"


class HourlySchedule(PeriodicGrantSchedule):
    """100 credits per hour-long period, counting how often it is asked."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.calls = 0

    def _period(self, now: datetime) -> tuple[datetime, datetime]:
        index = (now - self.start) // timedelta(hours=1)
        begin = self.start + index * timedelta(hours=1)
        return begin, begin + timedelta(hours=1)

    async def due_grants(self, uow: UnitOfWork, tenant_id: str, now: datetime) -> list[GrantSpec]:
        return (await self.due_grants_until(uow, tenant_id, now))[0]

    async def due_grants_until(
        self, uow: UnitOfWork, tenant_id: str, now: datetime
    ) -> tuple[list[GrantSpec], datetime]:
        self.calls += 1
        begin, end = self._period(now)
        spec = GrantSpec(GrantSource.PERIOD, 100, begin, end, f"hour:{begin.isoformat()}")
        return [spec], end


@dataclass
class LedgerKit:
    schedule: GrantSchedule | None = None
    clock: FixedClock = field(default_factory=FixedClock)
    store: InMemoryStore = field(default_factory=InMemoryStore)

    def __post_init__(self) -> None:
        self.uow_factory = InMemoryUnitOfWorkFactory(self.store)
        self.ledger = CreditLedger(self.uow_factory, SequentialIds("grant"), self.schedule)

    @property
    def now(self) -> datetime:
        return self.clock.now()

    async def give(
        self,
        amount: int,
        *,
        days: float = 30,
        starts_in: timedelta = timedelta(0),
        key: str | None = None,
        tenant_id: str = TENANT,
        source: GrantSource = GrantSource.PERIOD,
    ) -> CreditGrant:
        """A grant starting `starts_in` from now that lasts `days`."""
        starts_at = self.now + starts_in
        spec = GrantSpec(
            source=source,
            amount=amount,
            starts_at=starts_at,
            expires_at=starts_at + timedelta(days=days),
            grant_key=key or f"test:{amount}:{days}:{starts_in}:{len(self.store.ledger.grants)}",
        )
        return await self.ledger.grant(tenant_id, spec, self.now)

    async def reserve(
        self, amount: int, key: str, *, agent_id: str = "agent-1", tenant_id: str = TENANT
    ) -> Reservation:
        return await self.ledger.reserve(tenant_id, amount, key, agent_id, self.now)

    async def balance(self, tenant_id: str = TENANT) -> int:
        return await self.ledger.balance(tenant_id, self.now)

    def remaining(self, grant: CreditGrant) -> int:
        return self.store.ledger.grants[grant.id].remaining

    def reservation(self, key: str) -> Reservation:
        return self.store.ledger.reservations[key]
