"""The ledger's steps inside a caller's transaction (one statement each on PostgreSQL, the
generic steps on SQLite) commit or roll back with it and see its rows."""

from __future__ import annotations

from datetime import datetime, timedelta

from adapters.sql.uow import SqlUnitOfWorkFactory
from application.billing.ledger import CreditLedger, ensure_grants
from domain.billing.ledger import GrantSource, GrantSpec, ReservationStatus
from tests.fakes.ids import SequentialIds
from tests.integration.sql.factories import new_id, utc_now
from tests.integration.sql.test_ledger_concurrency import ledger_totals, new_tenant


def spec(amount: int, now: datetime, key: str = "period", days: int = 3) -> GrantSpec:
    return GrantSpec(
        GrantSource.PERIOD, amount, now - timedelta(hours=1), now + timedelta(days=days), key
    )


async def test_the_statements_run_in_the_callers_transaction(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    tenant_id = await new_tenant(uow_factory)
    ledger = CreditLedger(uow_factory, SequentialIds(f"grant-{new_id()}"))
    now = utc_now()
    async with uow_factory() as uow:
        # A grant added earlier in the same transaction is reserved from at once...
        await ensure_grants(uow, SequentialIds(f"g-{new_id()}"), tenant_id, [spec(50, now)], now)
        await ledger.reserve_in(uow, tenant_id, 20, f"{tenant_id}:lost", "agent-1", now)
        assert await ledger.balance_in(uow, tenant_id, now) == 30
    # ...and both vanish with the rollback.
    assert await ledger_totals(uow_factory, tenant_id) == (0, 0)

    await ledger.grant(tenant_id, spec(50, now), now)
    async with uow_factory() as uow:
        await ledger.reserve_in(uow, tenant_id, 20, f"{tenant_id}:kept", "agent-1", now)
        await uow.commit()
    assert await ledger_totals(uow_factory, tenant_id) == (30, 20)

    async with uow_factory() as uow:
        settled = await ledger.settle_in(uow, f"{tenant_id}:kept", 15, now)
        assert await ledger.balance_in(uow, tenant_id, now) == 35
        await uow.commit()
    assert (settled.status, settled.settled_amount) == (ReservationStatus.SETTLED, 15)
    assert await ledger_totals(uow_factory, tenant_id) == (35, 0)
