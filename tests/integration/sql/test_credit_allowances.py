"""Credit allowances on PostgreSQL: one tenant's turns spend a replica's block of credits on
their own rows, never overspend it, and whatever an allowance leaves unspent goes back to the
grants when its replica closes it or, after its deadline, any replica's sweep does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.security.ids import UuidGenerator
from adapters.sql.billing.allowances import (
    ALLOWANCE_GRACE,
    ALLOWANCE_LIFETIME,
    BALANCE_SHARE,
    MIN_TURNS_PER_DRAW,
)
from adapters.sql.billing.books import read_books
from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.uow import SqlUnitOfWorkFactory
from application.billing.ledger import CreditLedger
from domain.billing.ledger import GrantSource, GrantSpec
from domain.errors import FailedPrecondition
from tests.integration.sql.factories import make_tenant, new_id, utc_now

pytestmark = pytest.mark.integration

TURNS = 64
COST = 10
SPEND = 7
LAPSED = ALLOWANCE_LIFETIME + ALLOWANCE_GRACE + timedelta(seconds=1)


@pytest.fixture
async def engine(migrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    created = create_engine(migrated_database_url, pool_size=TURNS)
    try:
        yield created
    finally:
        await created.dispose()


def replica(engine: AsyncEngine) -> CreditLedger:
    """A ledger as one process has it: its own unit-of-work factory, so its own allowances."""
    return CreditLedger(SqlUnitOfWorkFactory(create_sessionmaker(engine)), UuidGenerator())


async def tenant_with(ledger: CreditLedger, engine: AsyncEngine, *grants: tuple[int, int]) -> str:
    """A new tenant with grants of (credits, seconds until they expire)."""
    tenant = make_tenant()
    uow_factory = SqlUnitOfWorkFactory(create_sessionmaker(engine))
    async with uow_factory() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    now = utc_now()
    for credits, seconds in grants:
        spec = GrantSpec(
            GrantSource.ADDON,
            credits,
            now - timedelta(hours=1),
            now + timedelta(seconds=seconds),
            f"addon:{new_id()}",
        )
        await ledger.grant(tenant.id, spec, now)
    return tenant.id


async def allowance_rows(engine: AsyncEngine, tenant_id: str) -> list[tuple[str, int, str, int]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT key, amount, status, settled_amount FROM credit_reservations "
                "WHERE tenant_id = :t AND kind = 'allowance' ORDER BY created_at"
            ),
            {"t": tenant_id},
        )
        return [(r.key, r.amount, r.status, r.settled_amount) for r in rows]


async def test_a_busy_tenant_spends_from_one_allowance_and_the_books_stay_exact(
    engine: AsyncEngine,
) -> None:
    ledger = replica(engine)
    granted = 1_000_000
    tenant_id = await tenant_with(ledger, engine, (granted, 86_400))
    now = utc_now()

    async def turn() -> None:
        key = new_id()
        await ledger.reserve(tenant_id, COST, key, "agent-1", now)
        await ledger.settle(key, SPEND, now)

    for _ in range(3):
        await asyncio.gather(*(turn() for _ in range(TURNS)))
        books = await read_books(engine, tenant_id)
        assert books.balanced, books
        assert books.overspent == 0

    assert books.charges_from_allowances == 3 * TURNS
    assert len(await allowance_rows(engine, tenant_id)) == 1  # drawn once, for everyone
    # One process: its own allowances are counted by what they really have left.
    assert await ledger.balance(tenant_id, now) == granted - 3 * TURNS * SPEND


async def test_an_allowance_is_never_overspent_and_a_small_balance_goes_to_the_grants(
    engine: AsyncEngine,
) -> None:
    ledger = replica(engine)
    granted = COST * MIN_TURNS_PER_DRAW * BALANCE_SHARE  # just enough for one small draw
    tenant_id = await tenant_with(ledger, engine, (granted, 86_400))
    now = utc_now()

    async def turn(key: str) -> bool:
        try:
            await ledger.reserve(tenant_id, COST, key, "agent-1", now)
        except FailedPrecondition:
            return False
        return True

    keys = [new_id() for _ in range(3 * granted // COST)]
    reserved = [
        key for key, ok in zip(keys, await asyncio.gather(*map(turn, keys)), strict=True) if ok
    ]

    # Every credit is held, by the allowance's charges or straight from the grants; no more.
    assert len(reserved) == granted // COST
    books = await read_books(engine, tenant_id)
    assert books.balanced, books
    assert books.overspent == 0
    assert books.available == 0
    assert 0 < books.charges_from_allowances < len(reserved)

    await asyncio.gather(*(ledger.release(key, now) for key in reserved))
    books = await read_books(engine, tenant_id)
    assert books.balanced, books
    # The retired allowance closed with its last charge: everything is back in the grants.
    assert books.available == granted
    [(_, _, status, settled)] = await allowance_rows(engine, tenant_id)
    assert (status, settled) == ("SETTLED", 0)


async def test_a_dead_replicas_allowance_is_swept_once_its_charges_have_ended(
    engine: AsyncEngine,
) -> None:
    dead, alive = replica(engine), replica(engine)
    granted = 1_000_000
    tenant_id = await tenant_with(dead, engine, (granted, 86_400))
    now = utc_now()
    held, settled = new_id(), new_id()
    await dead.reserve(tenant_id, COST, held, "agent-1", now)
    await dead.reserve(tenant_id, COST, settled, "agent-1", now)
    await dead.settle(settled, SPEND, now)
    [(_, drawn, _, _)] = await allowance_rows(engine, tenant_id)
    # Another replica counts what the open allowance's charges hold and spent, exactly.
    assert await alive.balance(tenant_id, now) == granted - COST - SPEND

    # Before its deadline nobody else closes it; after, not while a charge of it is held.
    # (Other tests' lapsed allowances may be swept alongside: only this tenant's is looked at.)
    await alive.close_lapsed_allowances(now, 10_000)
    await alive.close_lapsed_allowances(now + LAPSED, 10_000)
    [(_, _, status, _)] = await allowance_rows(engine, tenant_id)
    assert status == "RESERVED"
    await alive.settle(held, 3, now + LAPSED)
    assert await alive.close_lapsed_allowances(now + LAPSED, 10_000) >= 1

    books = await read_books(engine, tenant_id)
    assert books.balanced, books
    assert books.available == granted - SPEND - 3
    [(_, amount, status, spent)] = await allowance_rows(engine, tenant_id)
    assert (amount, status, spent) == (drawn, "SETTLED", SPEND + 3)
    assert await alive.balance(tenant_id, now + LAPSED) == granted - SPEND - 3


async def test_an_allowance_is_not_used_past_the_expiry_of_its_credits(
    engine: AsyncEngine,
) -> None:
    ledger = replica(engine)
    soon = 5
    tenant_id = await tenant_with(ledger, engine, (1_000_000, soon), (1_000_000, 86_400))
    now = utc_now()
    first = new_id()
    await ledger.reserve(tenant_id, COST, first, "agent-1", now)
    await ledger.settle(first, SPEND, now)
    later: datetime = now + timedelta(seconds=soon + 1)
    second = new_id()
    await ledger.reserve(tenant_id, COST, second, "agent-1", later)

    rows = await allowance_rows(engine, tenant_id)
    assert len(rows) == 2  # the first closed at the next turn, a new one drawn
    assert rows[0][2:] == ("SETTLED", SPEND)
    assert rows[1][2] == "RESERVED"
    books = await read_books(engine, tenant_id)
    assert books.balanced, books
    assert books.overspent == 0
