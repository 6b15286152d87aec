"""On PostgreSQL, concurrent reservations on one tenant never overdraw and never drift."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.billing.ledger import SqlLedgerRepository
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
# Turns that reserve and give back at once, in rounds: a race shows in some rounds only.
CROWD = 32
ROUNDS = 10


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


async def give_two_grants(
    ledger: CreditLedger, tenant_id: str, now: datetime, first: int, second: int
) -> None:
    """Two grants, so reservations also cross from one into the next under contention."""
    for amount, days in ((first, 2), (second, 30)):
        spec = GrantSpec(
            GrantSource.PERIOD,
            amount,
            now - timedelta(hours=1),
            now + timedelta(days=days),
            f"period:{days}",
        )
        await ledger.grant(tenant_id, spec, now)


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
    await give_two_grants(ledger, tenant_id, now, BALANCE // 4, BALANCE - BALANCE // 4)
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


async def reserve_then_resolve(
    uow_factory: SqlUnitOfWorkFactory,
    ledger: CreditLedger,
    tenant_id: str,
    index: int,
    now: datetime,
    *,
    shared: bool,
) -> None:
    """A chat turn's start (reserve 3) and end (settle 2, or release) transactions."""
    key = f"{tenant_id}:{index}"
    if not shared:
        await ledger.reserve(tenant_id, 3, key, "agent-1", now)
        if index % 2:
            await ledger.release(key, now)
        else:
            await ledger.settle(key, 2, now)
        return
    async with uow_factory() as uow:
        await ledger.reserve_in(uow, tenant_id, 3, key, "agent-1", now)
        await uow.commit()
    async with uow_factory() as uow:
        if index % 2:
            await ledger.release_in(uow, key, now)
        else:
            await ledger.settle_in(uow, key, 2, now)
        await uow.commit()


@pytest.mark.parametrize(
    ("path", "shared"),
    [
        ("one statement", True),
        ("one statement", False),
        ("generic steps", True),
        ("generic steps", False),
    ],
)
async def test_concurrent_turns_never_overdraw_while_credits_come_back(
    wide_uow_factory: SqlUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch, path: str, shared: bool
) -> None:
    if path == "generic steps":
        monkeypatch.setattr(SqlLedgerRepository, "atomic", lambda self, **_: None)
    async with wide_uow_factory() as uow:  # the path under test really runs
        assert (uow.ledger.atomic() is not None) == (path == "one statement")
    for _ in range(ROUNDS):
        await crowd_of_turns(wide_uow_factory, shared=shared)


async def crowd_of_turns(uow_factory: SqlUnitOfWorkFactory, *, shared: bool) -> None:
    tenant_id = await new_tenant(uow_factory)
    ledger = CreditLedger(uow_factory, SequentialIds(f"grant-{new_id()}"))
    now = utc_now()
    await give_two_grants(ledger, tenant_id, now, 10, 40)
    start = asyncio.Event()

    async def turn(index: int) -> int:
        await start.wait()
        await reserve_then_resolve(uow_factory, ledger, tenant_id, index, now, shared=shared)
        return index

    turns = [asyncio.create_task(turn(index)) for index in range(CROWD)]
    await asyncio.sleep(0)
    start.set()
    outcomes = await asyncio.gather(*turns, return_exceptions=True)

    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(failure, FailedPrecondition) for failure in failures), failures
    assert len(failures) < CROWD
    settled = sum(2 for o in outcomes if isinstance(o, int) and o % 2 == 0)
    assert await ledger_totals(uow_factory, tenant_id) == (50 - settled, 0)
