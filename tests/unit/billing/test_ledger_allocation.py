"""The pure credit maths: earliest-expiry-first allocation and what a settle returns."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.billing.ledger import (
    Allocation,
    CreditGrant,
    GrantSource,
    GrantSpec,
    Reservation,
    ReservationStatus,
    allocate,
    split_returns,
    usable_balance,
)
from domain.errors import FailedPrecondition, InvalidArgument
from tests.fakes.clock import DEFAULT_START

NOW = DEFAULT_START


def grant(
    grant_id: str, remaining: int, *, expires_in_days: float, starts_days_ago: float = 1
) -> CreditGrant:
    return CreditGrant(
        id=grant_id,
        tenant_id="t",
        source=GrantSource.PERIOD,
        amount=100,
        remaining=remaining,
        starts_at=NOW - timedelta(days=starts_days_ago),
        expires_at=NOW + timedelta(days=expires_in_days),
        grant_key=grant_id,
        created_at=NOW,
    )


def test_allocate_takes_the_earliest_expiring_grant_first() -> None:
    grants = [grant("late", 50, expires_in_days=20), grant("soon", 50, expires_in_days=2)]

    assert allocate(grants, 30, NOW) == [Allocation("soon", 30)]


def test_allocate_spills_into_the_next_grant_when_the_first_runs_out() -> None:
    grants = [grant("late", 50, expires_in_days=20), grant("soon", 10, expires_in_days=2)]

    assert allocate(grants, 30, NOW) == [Allocation("soon", 10), Allocation("late", 20)]


def test_allocate_skips_expired_future_and_empty_grants() -> None:
    grants = [
        grant("expired", 50, expires_in_days=-1, starts_days_ago=10),
        grant("future", 50, expires_in_days=20, starts_days_ago=-1),
        grant("empty", 0, expires_in_days=1),
        grant("ok", 5, expires_in_days=3),
    ]

    assert allocate(grants, 5, NOW) == [Allocation("ok", 5)]
    assert usable_balance(grants, NOW) == 5


def test_allocate_refuses_more_than_the_usable_total() -> None:
    grants = [grant("a", 5, expires_in_days=3), grant("b", 4, expires_in_days=4)]

    with pytest.raises(FailedPrecondition, match="insufficient credits"):
        allocate(grants, 10, NOW)


def test_grant_expiring_exactly_now_is_no_longer_usable() -> None:
    assert not grant("a", 5, expires_in_days=0).is_usable(NOW)


@pytest.mark.parametrize("amount", [0, -1])
def test_allocate_refuses_amounts_that_are_not_positive(amount: int) -> None:
    with pytest.raises(InvalidArgument):
        allocate([grant("a", 5, expires_in_days=3)], amount, NOW)


def test_split_returns_gives_back_the_latest_expiring_part_first() -> None:
    allocations = [Allocation("soon", 10), Allocation("late", 20)]

    assert split_returns(allocations, 5) == [Allocation("late", 20), Allocation("soon", 5)]
    assert split_returns(allocations, 25) == [Allocation("late", 5)]
    assert split_returns(allocations, 30) == []


def test_settled_reservation_cannot_be_settled_or_released_again() -> None:
    reservation = Reservation("k", "t", "a", 10, [Allocation("g", 10)], NOW, NOW)
    reservation.settle(4, NOW)

    assert reservation.status is ReservationStatus.SETTLED
    assert reservation.outstanding == 0
    with pytest.raises(FailedPrecondition):
        reservation.settle(4, NOW)
    with pytest.raises(FailedPrecondition):
        reservation.release(NOW)


def test_grant_refuses_remaining_outside_zero_to_amount() -> None:
    with pytest.raises(InvalidArgument):
        grant("a", 101, expires_in_days=1)
    with pytest.raises(InvalidArgument):
        grant("a", -1, expires_in_days=1)


def test_grant_spec_must_end_after_it_starts() -> None:
    with pytest.raises(InvalidArgument):
        GrantSpec(GrantSource.TRIAL, 10, NOW, NOW, "trial:t")
