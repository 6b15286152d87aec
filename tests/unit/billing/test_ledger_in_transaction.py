"""The ledger's `*_in` variants run inside the caller's unit of work and live or die with it."""

from __future__ import annotations

import pytest

from domain.billing.ledger import ReservationStatus
from domain.errors import AlreadyExists, FailedPrecondition
from tests.unit.billing.ledger_kit import TENANT, HourlySchedule, LedgerKit


async def test_a_reservation_in_a_committed_unit_of_work_holds_the_credits() -> None:
    kit = LedgerKit()
    grant = await kit.give(100)
    async with kit.uow_factory() as uow:
        reservation = await kit.ledger.reserve_in(uow, TENANT, 30, "msg-1", "agent-1", kit.now)
        assert await kit.ledger.balance_in(uow, TENANT, kit.now) == 70  # its own writes
        assert kit.remaining(grant) == 100  # nobody else sees them yet
        await uow.commit()
    assert reservation.status is ReservationStatus.RESERVED
    assert kit.reservation("msg-1").amount == 30
    assert await kit.balance() == 70


async def test_a_rolled_back_unit_of_work_takes_its_reservation_with_it() -> None:
    kit = LedgerKit()
    grant = await kit.give(100)
    async with kit.uow_factory() as uow:
        await kit.ledger.reserve_in(uow, TENANT, 30, "msg-1", "agent-1", kit.now)
    assert "msg-1" not in kit.store.ledger.reservations
    assert kit.remaining(grant) == 100


async def test_settle_and_release_in_follow_the_caller_commit() -> None:
    kit = LedgerKit()
    await kit.give(100)
    await kit.reserve(30, "settled")
    await kit.reserve(20, "released")
    async with kit.uow_factory() as uow:
        settled = await kit.ledger.settle_in(uow, "settled", 30, kit.now)
        released = await kit.ledger.release_in(uow, "released", kit.now)
        assert await kit.ledger.balance_in(uow, TENANT, kit.now) == 70
        await uow.commit()
    assert (settled.status, released.status) == (
        ReservationStatus.SETTLED,
        ReservationStatus.RELEASED,
    )
    assert kit.reservation("settled").settled_amount == 30
    assert kit.reservation("released").status is ReservationStatus.RELEASED
    assert await kit.balance() == 70


async def test_reserve_in_refuses_what_is_not_there_and_a_used_key() -> None:
    kit = LedgerKit()
    await kit.give(10)
    await kit.reserve(5, "used")
    async with kit.uow_factory() as uow:
        with pytest.raises(FailedPrecondition):
            await kit.ledger.reserve_in(uow, TENANT, 6, "too-much", "agent-1", kit.now)
    async with kit.uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await kit.ledger.reserve_in(uow, TENANT, 5, "used", "agent-1", kit.now)
    assert await kit.balance() == 5


async def test_due_grants_added_inside_are_granted_once_and_remembered_once_committed() -> None:
    schedule = HourlySchedule(LedgerKit().now)
    kit = LedgerKit(schedule=schedule)

    async with kit.uow_factory() as uow:  # adds the period's grant, then rolls back
        await kit.ledger.reserve_in(uow, TENANT, 10, "lost", "agent-1", kit.now)
    assert kit.store.ledger.grants == {}

    async with kit.uow_factory() as uow:  # adds it again: not remembered, the commit is unseen
        await kit.ledger.reserve_in(uow, TENANT, 10, "msg-1", "agent-1", kit.now)
        await uow.commit()
    assert schedule.calls == 2

    async with kit.uow_factory() as uow:  # finds it committed: remembered from here on
        assert await kit.ledger.balance_in(uow, TENANT, kit.now) == 90
    async with kit.uow_factory() as uow:
        await kit.ledger.reserve_in(uow, TENANT, 10, "msg-2", "agent-1", kit.now)
        await uow.commit()
    assert schedule.calls == 3
    assert len(kit.store.ledger.grants) == 1
    assert await kit.balance() == 80
