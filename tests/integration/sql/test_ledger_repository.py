"""The ledger repository keeps grants within 0..amount and reservations unique by key."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from adapters.sql.uow import SqlUnitOfWorkFactory
from domain.billing.ledger import Allocation, Reservation, ReservationStatus
from domain.errors import AlreadyExists, FailedPrecondition
from domain.tenancy.models import Tenant
from tests.integration.sql.billing_factories import make_grant, make_reservation
from tests.integration.sql.factories import make_tenant, utc_now


async def add_tenant(uow_factory: SqlUnitOfWorkFactory) -> Tenant:
    tenant = make_tenant()
    async with uow_factory() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    return tenant


async def test_a_grant_key_is_granted_once_per_tenant(uow_factory: SqlUnitOfWorkFactory) -> None:
    ours, theirs = await add_tenant(uow_factory), await add_tenant(uow_factory)
    grant = make_grant(ours.id, grant_key="trial:1")
    async with uow_factory() as uow:
        assert await uow.ledger.add_grant(grant) is True
        # The duplicate is skipped and the transaction stays usable.
        assert await uow.ledger.add_grant(make_grant(ours.id, grant_key="trial:1")) is False
        assert await uow.ledger.add_grant(make_grant(theirs.id, grant_key="trial:1")) is True
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.ledger.get_grant_by_key(ours.id, "trial:1") == grant
        assert await uow.ledger.get_grant_by_key(ours.id, "trial:2") is None
        assert [g.id for g in await uow.ledger.active_grants(ours.id, utc_now())] == [grant.id]


async def test_usable_grants_are_this_tenants_live_ones_earliest_expiry_first(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    ours, theirs = await add_tenant(uow_factory), await add_tenant(uow_factory)
    now = utc_now()
    late = make_grant(ours.id, expires_at=now + timedelta(days=60))
    early = make_grant(ours.id, expires_at=now + timedelta(days=2))
    spent = make_grant(ours.id, remaining=0)
    expired = make_grant(ours.id, expires_at=now - timedelta(seconds=1))
    future = make_grant(ours.id, starts_at=now + timedelta(days=1))
    foreign = make_grant(theirs.id)
    async with uow_factory() as uow:
        for grant in (late, early, spent, expired, future, foreign):
            await uow.ledger.add_grant(grant)
        await uow.commit()

    async with uow_factory() as uow:
        usable = await uow.ledger.usable_grants(ours.id, now)
        locked = await uow.ledger.usable_grants(ours.id, now, for_update=True)
        active = await uow.ledger.active_grants(ours.id, now)
        balance = await uow.ledger.balance(ours.id, now)

    assert usable == locked == [early, late]
    assert {g.id for g in active} == {early.id, late.id, spent.id}
    assert balance == early.remaining + late.remaining


async def test_take_lowers_remaining_only_when_enough_is_left(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    grant = make_grant(tenant.id, amount=10)
    async with uow_factory() as uow:
        await uow.ledger.add_grant(grant)
        assert await uow.ledger.take(grant.id, 7) is True
        assert await uow.ledger.take(grant.id, 4) is False
        assert await uow.ledger.take(grant.id, 3) is True
        assert await uow.ledger.take(grant.id, 1) is False
        await uow.ledger.give_back(grant.id, 2)
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.ledger.get_grant_by_key(tenant.id, grant.grant_key)
    assert stored is not None
    assert stored.remaining == 2


async def test_storage_refuses_remaining_above_the_granted_amount(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    grant = make_grant(tenant.id, amount=10)
    async with uow_factory() as uow:
        await uow.ledger.add_grant(grant)
        await uow.commit()

    async with uow_factory() as uow:
        with pytest.raises(IntegrityError):
            await uow.ledger.give_back(grant.id, 1)


async def test_storage_refuses_a_negative_remaining(uow_factory: SqlUnitOfWorkFactory) -> None:
    tenant = await add_tenant(uow_factory)
    async with uow_factory() as uow:
        grant = make_grant(tenant.id, amount=10)
        # Bypass the domain's own check to reach the database's.
        grant.remaining = -1
        with pytest.raises(IntegrityError):
            await uow.ledger.add_grant(grant)


async def test_a_reservation_round_trips_with_its_allocations_in_order(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    first, second = make_grant(tenant.id), make_grant(tenant.id)
    reservation = make_reservation(
        tenant.id,
        first.id,
        amount=7,
        allocations=[Allocation(second.id, 5), Allocation(first.id, 2)],
        reason="support credit",
    )
    async with uow_factory() as uow:
        await uow.ledger.add_grant(first)
        await uow.ledger.add_grant(second)
        await uow.ledger.add_reservation(reservation)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.ledger.get_reservation(reservation.key) == reservation
        assert await uow.ledger.get_reservation(reservation.key, for_update=True) == reservation
        assert await uow.ledger.get_reservation("no-such-key") is None


async def test_a_reservation_key_is_used_once_across_tenants(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    ours, theirs = await add_tenant(uow_factory), await add_tenant(uow_factory)
    our_grant, their_grant = make_grant(ours.id), make_grant(theirs.id)
    reservation = make_reservation(ours.id, our_grant.id)
    async with uow_factory() as uow:
        await uow.ledger.add_grant(our_grant)
        await uow.ledger.add_grant(their_grant)
        await uow.ledger.add_reservation(reservation)
        await uow.commit()

    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.ledger.add_reservation(
                make_reservation(theirs.id, their_grant.id, key=reservation.key)
            )
        # The transaction is still usable after the refusal.
        assert await uow.ledger.get_reservation(reservation.key) == reservation


async def test_a_reservation_leaves_reserved_only_once(uow_factory: SqlUnitOfWorkFactory) -> None:
    tenant = await add_tenant(uow_factory)
    grant = make_grant(tenant.id)
    reservation = make_reservation(tenant.id, grant.id, amount=5)
    async with uow_factory() as uow:
        await uow.ledger.add_grant(grant)
        await uow.ledger.add_reservation(reservation)
        await uow.commit()

    now = utc_now()
    settled = replace(reservation, allocations=list(reservation.allocations))
    settled.settle(3, now)
    released = replace(reservation, allocations=list(reservation.allocations))
    released.release(now)
    async with uow_factory() as uow:
        await uow.ledger.update_reservation(settled)
        with pytest.raises(FailedPrecondition):
            await uow.ledger.update_reservation(released)
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.ledger.get_reservation(reservation.key)
    assert stored == settled
    assert stored is not None
    assert (stored.status, stored.settled_amount) == (ReservationStatus.SETTLED, 3)


async def test_settled_usage_is_summed_per_agent_within_the_window(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    ours, theirs = await add_tenant(uow_factory), await add_tenant(uow_factory)
    our_grant, their_grant = make_grant(ours.id, amount=1000), make_grant(theirs.id)
    now = utc_now()
    since, until = now - timedelta(days=1), now + timedelta(days=1)

    def settled(
        tenant_id: str, grant_id: str, agent_id: str, spent: int, at: datetime
    ) -> Reservation:
        reservation = make_reservation(tenant_id, grant_id, agent_id=agent_id, amount=50)
        reservation.settle(spent, at)
        return reservation

    reservations = [
        settled(ours.id, our_grant.id, "agent-a", 4, now),
        settled(ours.id, our_grant.id, "agent-a", 6, now),
        settled(ours.id, our_grant.id, "agent-b", 1, now),
        settled(ours.id, our_grant.id, "agent-b", 9, since - timedelta(seconds=1)),
        settled(ours.id, our_grant.id, "agent-b", 9, until),
        settled(ours.id, our_grant.id, "", 50, now),
        settled(theirs.id, their_grant.id, "agent-a", 5, now),
        make_reservation(ours.id, our_grant.id, agent_id="agent-c"),
    ]
    released = make_reservation(ours.id, our_grant.id, agent_id="agent-d")
    released.release(now)
    async with uow_factory() as uow:
        await uow.ledger.add_grant(our_grant)
        await uow.ledger.add_grant(their_grant)
        for reservation in [*reservations, released]:
            await uow.ledger.add_reservation(reservation)
        await uow.commit()

    async with uow_factory() as uow:
        usage = await uow.ledger.settled_by_agent(ours.id, since, until)
    assert usage == {"agent-a": 10, "agent-b": 1}


async def test_extend_grant_moves_only_that_tenants_grant_expiry(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    ours, theirs = await add_tenant(uow_factory), await add_tenant(uow_factory)
    now = utc_now()
    grant = make_grant(ours.id, grant_key="trial:x", expires_at=now + timedelta(days=1))
    foreign = make_grant(theirs.id, grant_key="trial:x", expires_at=now + timedelta(days=1))
    later = now + timedelta(days=30)
    async with uow_factory() as uow:
        await uow.ledger.add_grant(grant)
        await uow.ledger.add_grant(foreign)
        assert await uow.ledger.extend_grant(ours.id, "trial:x", later) is True
        assert await uow.ledger.extend_grant(ours.id, "trial:none", later) is False
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.ledger.get_grant_by_key(ours.id, "trial:x") == replace(
            grant, expires_at=later
        )
        assert await uow.ledger.get_grant_by_key(theirs.id, "trial:x") == foreign
        assert await uow.ledger.balance(ours.id, now + timedelta(days=2)) == grant.remaining


async def test_expired_holds_are_the_reserved_ones_past_their_deadline_oldest_first(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    tenant, other = await add_tenant(uow_factory), await add_tenant(uow_factory)
    grant, their_grant = make_grant(tenant.id), make_grant(other.id)
    # Far in the future, so no other test's holds sort between ours.
    now = utc_now() + timedelta(days=800)
    late = make_reservation(tenant.id, grant.id, amount=1, expires_at=now - timedelta(seconds=5))
    early = make_reservation(
        other.id, their_grant.id, amount=1, expires_at=now - timedelta(seconds=9)
    )
    live = make_reservation(tenant.id, grant.id, amount=1, expires_at=now + timedelta(seconds=5))
    settled = make_reservation(
        tenant.id,
        grant.id,
        amount=1,
        expires_at=now - timedelta(seconds=7),
        status=ReservationStatus.SETTLED,
        settled_amount=1,
        resolved_at=utc_now(),
    )
    async with uow_factory() as uow:
        await uow.ledger.add_grant(grant)
        await uow.ledger.add_grant(their_grant)
        for reservation in (late, early, live, settled):
            await uow.ledger.add_reservation(reservation)
        await uow.commit()

    ours = {late.key, early.key, live.key, settled.key}
    async with uow_factory() as uow:
        found = [r for r in await uow.ledger.expired_holds(now, 100_000) if r.key in ours]
        assert [r.key for r in found] == [early.key, late.key]
        assert found[1] == late
