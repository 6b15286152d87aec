"""Operator adjustments: positive adds a grant, negative takes credits but never below zero."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from domain.billing.ledger import NEVER_EXPIRES, GrantSource, ReservationStatus
from domain.errors import FailedPrecondition, InvalidArgument
from tests.unit.billing.ledger_kit import TENANT, LedgerKit


async def test_positive_adjustment_adds_a_grant_usable_until_it_expires() -> None:
    kit = LedgerKit()
    expires = kit.now + timedelta(days=7)

    balance = await kit.ledger.adjust(TENANT, 40, "goodwill", expires, "op-1", kit.now)

    assert balance == 40
    (grant,) = kit.store.ledger.grants.values()
    assert (grant.source, grant.expires_at) == (GrantSource.ADJUSTMENT, expires)
    kit.clock.advance(days=7)
    assert await kit.balance() == 0


async def test_positive_adjustment_without_expiry_never_expires() -> None:
    kit = LedgerKit()

    await kit.ledger.adjust(TENANT, 40, "goodwill", None, "op-1", kit.now)

    (grant,) = kit.store.ledger.grants.values()
    assert grant.expires_at == NEVER_EXPIRES


async def test_negative_adjustment_takes_earliest_expiring_credits_as_a_debit() -> None:
    kit = LedgerKit()
    soon = await kit.give(10, days=2)
    late = await kit.give(50, days=30)

    balance = await kit.ledger.adjust(TENANT, -25, "refund", None, "op-1", kit.now)

    assert balance == 35
    assert (kit.remaining(soon), kit.remaining(late)) == (0, 35)
    (debit,) = kit.store.ledger.reservations.values()
    assert (debit.status, debit.settled_amount, debit.agent_id, debit.reason) == (
        ReservationStatus.SETTLED,
        25,
        "",
        "refund",
    )
    # An operator debit is nobody's agent usage.
    assert await kit.ledger.usage_by_agent(TENANT, kit.now, kit.now + timedelta(1)) == {}


async def test_negative_adjustment_larger_than_the_balance_is_refused_and_changes_nothing() -> None:
    kit = LedgerKit()
    await kit.give(10)
    before = copy.deepcopy(kit.store.ledger)

    with pytest.raises(FailedPrecondition, match="insufficient credits"):
        await kit.ledger.adjust(TENANT, -11, "refund", None, "op-1", kit.now)

    assert kit.store.ledger == before
    assert await kit.balance() == 10


async def test_negative_adjustment_may_take_the_balance_to_exactly_zero() -> None:
    kit = LedgerKit()
    await kit.give(10)

    assert await kit.ledger.adjust(TENANT, -10, "refund", None, "op-1", kit.now) == 0


@pytest.mark.parametrize("amount", [40, -5])
async def test_replayed_adjustment_changes_nothing(amount: int) -> None:
    kit = LedgerKit()
    await kit.give(10)
    await kit.ledger.adjust(TENANT, amount, "x", None, "op-1", kit.now)
    before = copy.deepcopy(kit.store.ledger)

    balance = await kit.ledger.adjust(TENANT, amount, "x", None, "op-1", kit.now)

    assert balance == 10 + amount
    assert kit.store.ledger == before


async def test_adjustment_refuses_zero_and_an_expiry_in_the_past() -> None:
    kit = LedgerKit()

    with pytest.raises(InvalidArgument):
        await kit.ledger.adjust(TENANT, 0, "x", None, "op-1", kit.now)
    with pytest.raises(InvalidArgument):
        await kit.ledger.adjust(TENANT, 5, "x", kit.now, "op-1", kit.now)
