"""On PostgreSQL, concurrent reservations on one tenant never overdraw and never drift."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.billing.ledger_records import CreditGrantRecord, CreditReservationRecord
from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.uow import SqlUnitOfWorkFactory
from application.billing.ledger import CreditLedger
from domain.billing.ledger import GrantSource, GrantSpec, ReservationStatus
from domain.errors import FailedPrecondition
from tests.fakes.ids import SequentialIds
from tests.integration.sql.billing_factories import make_grant
from tests.integration.sql.factories import make_tenant, new_id, utc_now

TURNS = 64
BALANCE = 40


@pytest.fixture
async def wide_uow_factory(migrated_database_url: str) -> AsyncIterator[SqlUnitOfWorkFactory]:
    """A pool with a connection per concurrent turn, so all of them really overlap."""
    engine = create_engine(migrated_database_url, pool_size=TURNS)
    try:
        yield SqlUnitOfWorkFactory(create_sessionmaker(engine))
    finally:
        await engine.dispose()


async def new_tenant(uow_factory: SqlUnitOfWorkFactory) -> str:
    tenant = make_tenant()
    async with uow_factory() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    return tenant.id


async def ledger_totals(uow_factory: SqlUnitOfWorkFactory, tenant_id: str) -> tuple[int, int]:
    """(sum of grants' remaining, sum of credits held by RESERVED reservations)."""
    async with uow_factory() as uow:
        # An audit straight on the tables, past the repository under test.
        session: AsyncSession = uow.ledger._session
        remaining = await session.scalar(
            select(func.sum(CreditGrantRecord.remaining)).where(
                CreditGrantRecord.tenant_id == tenant_id
            )
        )
        reserved = await session.scalar(
            select(func.coalesce(func.sum(CreditReservationRecord.amount), 0)).where(
                CreditReservationRecord.tenant_id == tenant_id,
                CreditReservationRecord.status == ReservationStatus.RESERVED.value,
            )
        )
    return int(remaining or 0), int(reserved or 0)


async def test_reserve_never_overdraws_under_64_concurrent_turns(
    wide_uow_factory: SqlUnitOfWorkFactory,
) -> None:
    tenant_id = await new_tenant(wide_uow_factory)
    ledger = CreditLedger(wide_uow_factory, SequentialIds(f"grant-{new_id()}"))
    now = utc_now()
    # Two grants, so reservations also cross from one grant into the next under contention.
    for amount, days in ((BALANCE // 4, 2), (BALANCE - BALANCE // 4, 30)):
        spec = GrantSpec(
            GrantSource.PERIOD,
            amount,
            now - timedelta(hours=1),
            now + timedelta(days=days),
            f"period:{days}",
        )
        await ledger.grant(tenant_id, spec, now)
    start = asyncio.Event()

    async def turn(index: int) -> object:
        await start.wait()
        return await ledger.reserve(tenant_id, 1, f"msg-{tenant_id}-{index}", "agent-1", now)

    turns = [asyncio.create_task(turn(index)) for index in range(TURNS)]
    await asyncio.sleep(0)
    start.set()
    outcomes = await asyncio.gather(*turns, return_exceptions=True)

    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len(outcomes) - len(failures) == BALANCE
    assert all(isinstance(failure, FailedPrecondition) for failure in failures), failures
    assert await ledger.balance(tenant_id, now) == 0
    assert await ledger_totals(wide_uow_factory, tenant_id) == (0, BALANCE)


async def test_conditional_takes_alone_never_overdraw_a_grant(
    wide_uow_factory: SqlUnitOfWorkFactory,
) -> None:
    # No FOR UPDATE here: the single conditional UPDATE is what keeps the grant whole.
    tenant_id = await new_tenant(wide_uow_factory)
    grant = make_grant(tenant_id, amount=BALANCE)
    async with wide_uow_factory() as uow:
        await uow.ledger.add_grant(grant)
        await uow.commit()
    start = asyncio.Event()

    async def take() -> bool:
        async with wide_uow_factory() as uow:
            await start.wait()
            taken = await uow.ledger.take(grant.id, 1)
            await uow.commit()
            return taken

    takers = [asyncio.create_task(take()) for _ in range(TURNS)]
    await asyncio.sleep(0)
    start.set()
    outcomes = await asyncio.gather(*takers)

    assert outcomes.count(True) == BALANCE
    assert await ledger_totals(wide_uow_factory, tenant_id) == (0, 0)


async def test_settling_and_releasing_concurrently_never_drifts(
    wide_uow_factory: SqlUnitOfWorkFactory,
) -> None:
    tenant_id = await new_tenant(wide_uow_factory)
    ledger = CreditLedger(wide_uow_factory, SequentialIds(f"grant-{new_id()}"))
    now = utc_now()
    spec = GrantSpec(
        GrantSource.TRIAL, 10 * TURNS, now - timedelta(hours=1), now + timedelta(days=1), "trial"
    )
    await ledger.grant(tenant_id, spec, now)
    keys = [f"msg-{tenant_id}-{index}" for index in range(TURNS // 2)]
    for key in keys:
        await ledger.reserve(tenant_id, 10, key, "agent-1", now)

    # Every key is settled (spending 4 of 10) and released at the same moment: one wins.
    results = await asyncio.gather(
        *(ledger.settle(key, 4, now) for key in keys),
        *(ledger.release(key, now) for key in keys),
        return_exceptions=True,
    )

    errors = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(error, FailedPrecondition) for error in errors), errors
    async with wide_uow_factory() as uow:
        final = [await uow.ledger.get_reservation(key) for key in keys]
    spent = sum(r.settled_amount for r in final if r is not None)
    assert all(r is not None and r.status is not ReservationStatus.RESERVED for r in final)
    assert await ledger.balance(tenant_id, now) == 10 * TURNS - spent
    assert await ledger_totals(wide_uow_factory, tenant_id) == (10 * TURNS - spent, 0)
