"""The in-memory ledger keeps grants and reservations like the database would."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from adapters.memory.uow import InMemoryStore, InMemoryUnitOfWorkFactory
from domain.billing.ledger import (
    Allocation,
    CreditGrant,
    GrantSource,
    GrantSpec,
    Reservation,
    ReservationStatus,
)
from domain.errors import AlreadyExists, FailedPrecondition
from tests.fakes.clock import DEFAULT_START

NOW = DEFAULT_START


def make_grant(grant_id: str = "g1", amount: int = 10, key: str = "k1") -> CreditGrant:
    spec = GrantSpec(GrantSource.PERIOD, amount, NOW, NOW + timedelta(days=30), key)
    return CreditGrant.create(grant_id, "t1", spec, NOW)


async def seeded() -> InMemoryUnitOfWorkFactory:
    factory = InMemoryUnitOfWorkFactory(InMemoryStore())
    async with factory() as uow:
        assert await uow.ledger.add_grant(make_grant())
        await uow.commit()
    return factory


async def test_uncommitted_takes_and_grants_are_invisible_to_others() -> None:
    factory = await seeded()
    async with factory() as writer, factory() as reader:
        assert await writer.ledger.take("g1", 4)
        await writer.ledger.add_grant(make_grant("g2", key="k2"))

        assert await reader.ledger.balance("t1", NOW) == 10
        assert await writer.ledger.balance("t1", NOW) == 16
    assert factory.store.ledger.grants["g1"].remaining == 10


async def test_take_is_conditional_on_what_is_left() -> None:
    factory = await seeded()
    async with factory() as uow:
        assert await uow.ledger.take("g1", 10)
        assert not await uow.ledger.take("g1", 1)
        assert not await uow.ledger.take("missing", 1)


async def test_two_transactions_cannot_both_spend_the_same_credits() -> None:
    factory = await seeded()
    async with factory() as first, factory() as second:
        assert await first.ledger.take("g1", 8)
        assert await second.ledger.take("g1", 8)
        await first.ledger.add_reservation(Reservation("r1", "t1", "a", 8, [], NOW, NOW))
        await first.commit()

        with pytest.raises(FailedPrecondition):
            await second.commit()
    assert factory.store.ledger.grants["g1"].remaining == 2
    assert set(factory.store.ledger.reservations) == {"r1"}


async def test_duplicate_grant_key_is_a_no_op_and_a_racing_insert_fails_at_commit() -> None:
    factory = await seeded()
    async with factory() as uow:
        assert not await uow.ledger.add_grant(make_grant("g9"))

    async with factory() as first, factory() as second:
        assert await first.ledger.add_grant(make_grant("g2", key="k2"))
        assert await second.ledger.add_grant(make_grant("g3", key="k2"))
        await first.commit()
        with pytest.raises(AlreadyExists):
            await second.commit()
    assert set(factory.store.ledger.grants) == {"g1", "g2"}


async def test_reservation_keys_are_unique_even_across_concurrent_transactions() -> None:
    factory = await seeded()
    async with factory() as first, factory() as second:
        await first.ledger.add_reservation(Reservation("r1", "t1", "a", 1, [], NOW, NOW))
        with pytest.raises(AlreadyExists):
            await first.ledger.add_reservation(Reservation("r1", "t1", "a", 1, [], NOW, NOW))
        await second.ledger.add_reservation(Reservation("r1", "t1", "a", 2, [], NOW, NOW))
        await first.commit()
        with pytest.raises(AlreadyExists):
            await second.commit()


async def test_only_one_of_two_racing_resolutions_of_a_reservation_commits() -> None:
    factory = await seeded()
    async with factory() as uow:
        assert await uow.ledger.take("g1", 5)
        await uow.ledger.add_reservation(
            Reservation("r1", "t1", "a", 5, [Allocation("g1", 5)], NOW, NOW)
        )
        await uow.commit()
    async with factory() as settler, factory() as releaser:
        settled = await settler.ledger.get_reservation("r1", for_update=True)
        released = await releaser.ledger.get_reservation("r1", for_update=True)
        assert settled is not None
        assert released is not None
        for allocation in settled.settle(5, NOW):
            await settler.ledger.give_back(allocation.grant_id, allocation.amount)
        await settler.ledger.update_reservation(settled)
        for allocation in released.release(NOW):
            await releaser.ledger.give_back(allocation.grant_id, allocation.amount)
        await releaser.ledger.update_reservation(released)
        await settler.commit()
        before = copy.deepcopy(factory.store.ledger)

        with pytest.raises(FailedPrecondition):
            await releaser.commit()
    assert factory.store.ledger == before
    assert factory.store.ledger.reservations["r1"].status is ReservationStatus.SETTLED


async def test_give_back_refuses_to_exceed_the_granted_amount() -> None:
    factory = await seeded()
    async with factory() as uow:
        with pytest.raises(FailedPrecondition):
            await uow.ledger.give_back("g1", 1)


async def test_deleting_a_tenant_deletes_its_ledger() -> None:
    factory = await seeded()
    async with factory() as uow:
        await uow.tenants.delete("t1")
        await uow.commit()

    assert factory.store.ledger.grants == {}
