"""The credit ledger service: reserve, settle, release, grant and balance, each idempotent."""

from __future__ import annotations

import asyncio
import copy
from datetime import datetime, timedelta

import pytest

from application.common.ports import UnitOfWork
from domain.billing.ledger import GrantSource, GrantSpec, ReservationStatus
from domain.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from tests.unit.billing.ledger_kit import OTHER_TENANT, TENANT, LedgerKit


async def test_reserve_takes_the_earliest_expiring_grant_first() -> None:
    kit = LedgerKit()
    late = await kit.give(50, days=30)
    soon = await kit.give(50, days=3)

    reservation = await kit.reserve(30, "msg-1")

    assert reservation.status is ReservationStatus.RESERVED
    assert (kit.remaining(soon), kit.remaining(late)) == (20, 50)
    assert await kit.balance() == 70


async def test_reserve_spans_grants_when_the_earliest_is_too_small() -> None:
    kit = LedgerKit()
    late = await kit.give(50, days=30)
    soon = await kit.give(10, days=3)

    await kit.reserve(25, "msg-1")

    assert (kit.remaining(soon), kit.remaining(late)) == (0, 35)


async def test_expired_and_not_yet_started_grants_are_not_in_the_balance() -> None:
    kit = LedgerKit()
    await kit.give(10, days=1)
    await kit.give(20, days=5, starts_in=timedelta(days=2))
    assert await kit.balance() == 10

    kit.clock.advance(days=2)

    assert await kit.balance() == 20


async def test_reserve_refuses_more_than_the_balance_and_takes_nothing() -> None:
    kit = LedgerKit()
    grant = await kit.give(10)

    with pytest.raises(FailedPrecondition, match="insufficient credits"):
        await kit.reserve(11, "msg-1")

    assert kit.remaining(grant) == 10
    assert kit.store.ledger.reservations == {}


async def test_reserve_cannot_use_credits_that_expired() -> None:
    kit = LedgerKit()
    await kit.give(10, days=1)
    kit.clock.advance(days=1)

    with pytest.raises(FailedPrecondition):
        await kit.reserve(1, "msg-1")


async def test_settle_below_reserved_returns_the_rest_to_the_latest_expiring_grant() -> None:
    kit = LedgerKit()
    soon = await kit.give(10, days=3)
    late = await kit.give(50, days=30)
    await kit.reserve(30, "msg-1")

    settled = await kit.ledger.settle("msg-1", 12, kit.now)

    assert (settled.status, settled.settled_amount) == (ReservationStatus.SETTLED, 12)
    assert (kit.remaining(soon), kit.remaining(late)) == (0, 48)
    assert await kit.balance() == 48


async def test_settle_refuses_more_than_was_reserved() -> None:
    kit = LedgerKit()
    await kit.give(50)
    await kit.reserve(5, "msg-1")

    with pytest.raises(InvalidArgument):
        await kit.ledger.settle("msg-1", 6, kit.now)
    assert kit.reservation("msg-1").status is ReservationStatus.RESERVED


async def test_release_returns_every_reserved_credit() -> None:
    kit = LedgerKit()
    soon = await kit.give(10, days=3)
    late = await kit.give(50, days=30)
    await kit.reserve(30, "msg-1")

    released = await kit.ledger.release("msg-1", kit.now)

    assert released.status is ReservationStatus.RELEASED
    assert (kit.remaining(soon), kit.remaining(late)) == (10, 50)


async def test_credits_returned_to_an_expired_grant_stay_unusable() -> None:
    kit = LedgerKit()
    soon = await kit.give(10, days=1)
    await kit.reserve(10, "msg-1")
    kit.clock.advance(days=2)

    await kit.ledger.release("msg-1", kit.now)

    assert kit.remaining(soon) == 10
    assert await kit.balance() == 0


async def test_replayed_reserve_changes_nothing_and_returns_the_same_reservation() -> None:
    kit = LedgerKit()
    await kit.give(50)
    first = await kit.reserve(30, "msg-1")
    before = copy.deepcopy(kit.store.ledger)

    again = await kit.reserve(30, "msg-1")

    assert again == first
    assert kit.store.ledger == before


async def test_replayed_reserve_after_settle_returns_the_settled_reservation() -> None:
    kit = LedgerKit()
    await kit.give(50)
    await kit.reserve(30, "msg-1")
    settled = await kit.ledger.settle("msg-1", 3, kit.now)

    assert await kit.reserve(30, "msg-1") == settled
    assert await kit.balance() == 47


async def test_reserve_key_reused_for_another_charge_is_refused() -> None:
    kit = LedgerKit()
    await kit.give(50)
    await kit.give(50, tenant_id=OTHER_TENANT)
    await kit.reserve(30, "msg-1")

    with pytest.raises(AlreadyExists):
        await kit.reserve(31, "msg-1")
    with pytest.raises(AlreadyExists):
        await kit.reserve(30, "msg-1", tenant_id=OTHER_TENANT)
    assert await kit.balance(OTHER_TENANT) == 50


async def test_replayed_settle_and_release_change_nothing() -> None:
    kit = LedgerKit()
    await kit.give(50)
    await kit.reserve(30, "msg-1")
    settled = await kit.ledger.settle("msg-1", 10, kit.now)
    before = copy.deepcopy(kit.store.ledger)

    assert await kit.ledger.settle("msg-1", 10, kit.now) == settled
    assert await kit.ledger.settle("msg-1", 1, kit.now) == settled
    assert await kit.ledger.release("msg-1", kit.now) == settled
    assert kit.store.ledger == before


async def test_settle_after_release_is_refused() -> None:
    kit = LedgerKit()
    await kit.give(50)
    await kit.reserve(30, "msg-1")
    await kit.ledger.release("msg-1", kit.now)

    with pytest.raises(FailedPrecondition):
        await kit.ledger.settle("msg-1", 10, kit.now)
    assert await kit.balance() == 50


async def test_settle_and_release_of_an_unknown_key_are_not_found() -> None:
    kit = LedgerKit()

    with pytest.raises(NotFound):
        await kit.ledger.settle("nope", 1, kit.now)
    with pytest.raises(NotFound):
        await kit.ledger.release("nope", kit.now)


async def test_grant_is_idempotent_by_key() -> None:
    kit = LedgerKit()
    first = await kit.give(50, key="period:FREE:2026-01-01")
    await kit.reserve(5, "msg-1")

    again = await kit.give(70, key="period:FREE:2026-01-01")

    assert again.id == first.id
    assert (again.amount, again.remaining) == (50, 45)
    assert len(kit.store.ledger.grants) == 1


async def test_grant_keys_are_per_tenant() -> None:
    kit = LedgerKit()
    await kit.give(50, key="trial")
    await kit.give(50, key="trial", tenant_id=OTHER_TENANT)

    assert await kit.balance() == 50
    assert await kit.balance(OTHER_TENANT) == 50


async def test_concurrent_reservations_never_overdraw() -> None:
    kit = LedgerKit()
    await kit.give(20)

    results = await asyncio.gather(
        *(kit.reserve(1, f"msg-{n}") for n in range(50)), return_exceptions=True
    )

    assert sum(1 for r in results if not isinstance(r, BaseException)) == 20
    assert all(isinstance(r, FailedPrecondition) for r in results if isinstance(r, BaseException))
    assert await kit.balance() == 0


async def test_usage_by_agent_sums_settled_credits_per_agent_in_the_window() -> None:
    kit = LedgerKit()
    await kit.give(100)
    start = kit.now
    await kit.reserve(10, "m1", agent_id="a")
    await kit.reserve(10, "m2", agent_id="a")
    await kit.reserve(10, "m3", agent_id="b")
    await kit.reserve(10, "m4", agent_id="b")
    await kit.ledger.settle("m1", 3, kit.now)
    await kit.ledger.settle("m2", 4, kit.now)
    await kit.ledger.release("m3", kit.now)  # released: not usage
    kit.clock.advance(days=1)
    await kit.ledger.settle("m4", 9, kit.now)  # settled after the window

    usage = await kit.ledger.usage_by_agent(TENANT, start, start + timedelta(hours=1))

    assert usage == {"a": 7}
    assert await kit.ledger.usage_by_agent(OTHER_TENANT, start, kit.now + timedelta(1)) == {}


class TrialSchedule:
    """Due grants: a 100-credit trial keyed per tenant."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.calls = 0

    async def due_grants(self, uow: UnitOfWork, tenant_id: str, now: datetime) -> list[GrantSpec]:
        self.calls += 1
        end = self.start + timedelta(days=14)
        return [GrantSpec(GrantSource.TRIAL, 100, self.start, end, f"trial:{tenant_id}")]


async def test_due_grants_are_added_lazily_and_exactly_once() -> None:
    schedule = TrialSchedule(LedgerKit().now)
    kit = LedgerKit(schedule=schedule)

    assert await kit.balance() == 100
    await kit.reserve(30, "msg-1")
    assert await kit.balance() == 70

    assert schedule.calls == 3
    assert len(kit.store.ledger.grants) == 1
