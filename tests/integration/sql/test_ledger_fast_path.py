"""PostgreSQL's one-statement reserve/settle/release give the same ledger as the generic steps."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest

from adapters.sql.billing.ledger import SqlLedgerRepository
from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.uow import SqlUnitOfWorkFactory
from application.billing.ledger import CreditLedger
from domain.billing.ledger import GrantSource, GrantSpec, Reservation
from tests.fakes.ids import SequentialIds
from tests.integration.sql.factories import make_tenant, new_id, utc_now

Outcome = tuple[str, ...]
# (grant key, amount, starts in days, lasts days), inserted in this order so that the
# consumption order (earliest expiry first) differs from the insertion order.
GRANTS = [
    ("late", 50, -1, 30),
    ("early", 30, -1, 2),
    ("middle", 20, -1, 10),
    ("future", 100, 1, 30),
    ("expired", 100, -10, 5),
]


def described(reservation: Reservation, keys: dict[str, str]) -> Outcome:
    allocations = ",".join(f"{keys[a.grant_id]}:{a.amount}" for a in reservation.allocations)
    return (
        reservation.key.split(":", 1)[1],
        reservation.status.value,
        str(reservation.amount),
        str(reservation.settled_amount),
        allocations,
    )


async def play(uow_factory: SqlUnitOfWorkFactory) -> tuple[list[Outcome], dict[str, int]]:
    """One fixed sequence of operations; every outcome (result or error) and final balances."""
    tenant = make_tenant()
    async with uow_factory() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    ledger = CreditLedger(uow_factory, SequentialIds(f"grant-{new_id()}"))
    now = utc_now()
    keys: dict[str, str] = {}
    for grant_key, amount, starts, days in GRANTS:
        starts_at = now + timedelta(days=starts)
        spec = GrantSpec(
            GrantSource.PERIOD, amount, starts_at, starts_at + timedelta(days=days), grant_key
        )
        keys[(await ledger.grant(tenant.id, spec, now)).id] = grant_key
    prefix = f"{tenant.id}:"
    steps: list[Callable[[datetime], Awaitable[Reservation]]] = [
        lambda at: ledger.reserve(tenant.id, 40, prefix + "r1", "a", at),  # early 30, middle 10
        lambda at: ledger.reserve(tenant.id, 25, prefix + "r2", "a", at),  # middle 10, late 15
        lambda at: ledger.settle(prefix + "r1", 35, at),  # 5 back to middle
        lambda at: ledger.release(prefix + "r2", at),
        lambda at: ledger.reserve(tenant.id, 40, prefix + "r1", "a", at),  # replay
        lambda at: ledger.settle(prefix + "r1", 1, at),  # replay: stored result
        lambda at: ledger.reserve(tenant.id, 60, prefix + "r3", "b", at),
        lambda at: ledger.settle(prefix + "r3", 0, at),  # everything back
        lambda at: ledger.reserve(tenant.id, 65, prefix + "r4", "b", at),  # all that's usable
        lambda at: ledger.reserve(tenant.id, 1, prefix + "r5", "b", at),  # insufficient
        lambda at: ledger.settle(prefix + "r4", 66, at),  # more than reserved
        lambda at: ledger.settle(prefix + "r4", 30, at),  # 35 back to late
        lambda at: ledger.release(prefix + "r4", at),  # after a settle: unchanged
        lambda at: ledger.settle(prefix + "r2", 1, at),  # released
        lambda at: ledger.settle(prefix + "nope", 1, at),  # unknown
        lambda at: ledger.reserve(tenant.id, 41, prefix + "r1", "a", at),  # key reused
        lambda at: ledger.reserve(tenant.id, 10, prefix + "r6", "c", at),
        lambda at: ledger.reserve(tenant.id, 10, prefix + "r6", "c", at),  # replay
        lambda at: ledger.reserve(tenant.id, 65, prefix + "r4", "b", at),  # replay, balance 25
    ]
    outcomes: list[Outcome] = []
    for step in steps:
        try:
            outcomes.append(described(await step(now), keys))
        except Exception as error:
            outcomes.append((type(error).__name__, str(error)))
    async with uow_factory() as uow:
        grants = [
            grant
            for at in (now, now + timedelta(days=1, hours=1), now - timedelta(days=6))
            for grant in await uow.ledger.active_grants(tenant.id, at)
        ]
    return outcomes, {keys[g.id]: g.remaining for g in grants}


async def test_fast_and_generic_paths_keep_identical_ledgers(
    migrated_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(migrated_database_url, pool_size=4)
    try:
        uow_factory = SqlUnitOfWorkFactory(create_sessionmaker(engine))
        async with uow_factory() as uow:
            assert uow.ledger.atomic() is not None  # the fast path really runs first
        fast = await play(uow_factory)
        monkeypatch.setattr(SqlLedgerRepository, "atomic", lambda self, **_: None)
        generic = await play(uow_factory)
    finally:
        await engine.dispose()

    assert fast == generic
    outcomes, remaining = fast
    assert outcomes[0][4] == "early:30,middle:10"
    assert outcomes[1][4] == "middle:10,late:15"
    assert outcomes[6][4] == "middle:15,late:45"
    assert outcomes[8][4] == "middle:15,late:50"
    assert [o[0] for o in outcomes[9:11]] == ["FailedPrecondition", "InvalidArgument"]
    assert outcomes[11][1:4] == ("SETTLED", "65", "30")
    assert outcomes[12] == outcomes[11]
    assert outcomes[13][0] == "FailedPrecondition"
    assert outcomes[14][0] == "NotFound"
    assert outcomes[15][0] == "AlreadyExists"
    assert outcomes[16] == outcomes[17] == ("r6", "RESERVED", "10", "0", "late:10")
    assert outcomes[18] == outcomes[11]
    assert remaining == {"early": 0, "middle": 0, "late": 25, "future": 100, "expired": 100}
