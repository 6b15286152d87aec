"""The ledger remembers, per tenant, until when its due grants are known to be in place."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from application.billing.ledger import DUE_GRANTS_MEMORY
from application.billing.ledger_ports import PeriodicGrantSchedule
from application.common.ports import UnitOfWork
from domain.billing.ledger import GrantSource, GrantSpec
from domain.errors import FailedPrecondition
from tests.unit.billing.ledger_kit import TENANT, LedgerKit


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


async def test_due_grants_are_checked_once_per_period_and_at_least_every_minute() -> None:
    schedule = HourlySchedule(LedgerKit().now)
    kit = LedgerKit(schedule=schedule)

    assert await kit.balance() == 100
    await kit.reserve(30, "msg-1")
    await kit.ledger.settle("msg-1", 30, kit.now)
    assert await kit.balance() == 70
    assert schedule.calls == 1

    kit.clock.advance(seconds=DUE_GRANTS_MEMORY.total_seconds())
    assert await kit.balance() == 70
    assert schedule.calls == 2  # remembered for a minute at most

    kit.clock.advance(seconds=3600)
    assert await kit.balance() == 100  # the next period's credits, once
    assert await kit.balance() == 100
    assert schedule.calls == 3


async def test_a_failed_unit_of_work_is_not_remembered() -> None:
    schedule = HourlySchedule(LedgerKit().now)
    kit = LedgerKit(schedule=schedule)

    with pytest.raises(FailedPrecondition):
        await kit.reserve(500, "too-much")
    assert schedule.calls == 1
    assert await kit.ledger.balance(TENANT, kit.now) == 100
    assert schedule.calls == 2
    assert await kit.ledger.balance(TENANT, kit.now) == 100
    assert schedule.calls == 2
