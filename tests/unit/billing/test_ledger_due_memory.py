"""The ledger remembers, per tenant, until when its due grants are known to be in place."""

from __future__ import annotations

import pytest

from application.billing.ledger import DUE_GRANTS_MEMORY
from domain.errors import FailedPrecondition
from tests.unit.billing.ledger_kit import TENANT, HourlySchedule, LedgerKit


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
