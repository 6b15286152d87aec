"""(d) Reserve + settle throughput of the credit ledger on one tenant, 32 turns at a time."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.billing.books import read_books
from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.migrate import upgrade
from adapters.sql.uow import SqlUnitOfWorkFactory
from application.billing.ledger import CreditLedger
from application.billing.subscriptions import BillingPolicy, PlanGrantSchedule
from bench.infra import throwaway_database
from bench.report import BenchOptions, Row, main_for
from domain.tenancy.models import Tenant

NAME = "d. ledger reserve + settle"
CONCURRENCY = 32
TARGET_TURNS_PER_S = 1_000.0
TARGET_P99_MS = 50.0
RESERVE = 10
SPEND = 7  # settle below the reservation, so every turn also returns credits to a grant
STARTING_CREDITS = 10**12
# A connection per turn in flight: with allowances (docs/ledger.md) one tenant's turns write
# only their own rows, so nothing queues on a grant row and more connections help (measured:
# pool 8 → ~1,450 turns/s with p99 ~53 ms, waiting for a connection; 32 → ~1,690, p99 ~27).
POOL_SIZE = 32


class _Ids:
    def new_id(self) -> str:
        return secrets.token_hex(12)


@dataclass(slots=True)
class _Tally:
    latencies_s: list[float]
    settled: int = 0
    failed: int = 0
    first_error: str = ""


async def _turns(ledger: CreditLedger, tenant_id: str, until: float, tally: _Tally) -> None:
    """One chat turn after another: reserve, then settle to the real cost."""
    while time.perf_counter() < until:
        key = secrets.token_hex(12)
        started = time.perf_counter()
        try:
            now = datetime.now(UTC)
            await ledger.reserve(tenant_id, RESERVE, key, "agent-1", now)
            await ledger.settle(key, SPEND, now)
        except Exception as error:
            tally.failed += 1
            tally.first_error = tally.first_error or f"{type(error).__name__}: {error}"
            continue
        tally.latencies_s.append(time.perf_counter() - started)
        tally.settled += 1


async def _load(ledger: CreditLedger, tenant_id: str, seconds: float) -> tuple[_Tally, float]:
    tally = _Tally(latencies_s=[])
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(_turns(ledger, tenant_id, until, tally) for _ in range(CONCURRENCY)))
    return tally, time.perf_counter() - started


async def _drift(engine: AsyncEngine, tenant_id: str) -> int:
    """Credits granted - (available + held + spent); zero when nothing was lost or made up."""
    books = await read_books(engine, tenant_id)
    if books.overspent:
        return -1  # an allowance spent beyond what it drew: as wrong as any drift
    return books.granted - (books.available + books.held + books.spent)


def _p99_ms(latencies_s: list[float]) -> float:
    ordered = sorted(latencies_s)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000 if ordered else 0.0


async def run(options: BenchOptions) -> list[Row]:
    async with throwaway_database() as url:
        await upgrade(url)
        engine = create_engine(url, pool_size=POOL_SIZE)
        try:
            uow_factory = SqlUnitOfWorkFactory(create_sessionmaker(engine))
            ledger = CreditLedger(uow_factory, _Ids(), PlanGrantSchedule(BillingPolicy()))
            tenant_id = secrets.token_hex(12)
            now = datetime.now(UTC)
            async with uow_factory() as uow:
                await uow.tenants.add(
                    Tenant(id=tenant_id, name="bench", created_at=now, updated_at=now)
                )
                await uow.commit()
            await ledger.adjust(tenant_id, STARTING_CREDITS, "bench", None, "bench", now)
            await _load(ledger, tenant_id, options.warmup_s)
            tally, elapsed = await _load(ledger, tenant_id, options.duration_s)
            drift = await _drift(engine, tenant_id)
        finally:
            await engine.dispose()
    rate = tally.settled / elapsed if elapsed else 0.0
    valid = tally.failed == 0 and drift == 0
    note = "" if valid else f"{tally.failed} failed turns ({tally.first_error}), drift {drift}"
    p99_ms = _p99_ms(tally.latencies_s)
    return [
        Row(
            NAME,
            "settled turns/s",
            f"{rate:,.0f}",
            f">= {TARGET_TURNS_PER_S:,.0f}",
            passed=valid and rate >= TARGET_TURNS_PER_S,
            note=note,
        ),
        Row(
            NAME,
            "p99 per turn",
            f"{p99_ms:.1f} ms",
            f"<= {TARGET_P99_MS:.0f} ms",
            passed=valid and p99_ms <= TARGET_P99_MS,
        ),
        Row(NAME, "drift (credits)", str(drift), "0", passed=drift == 0),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    return main_for(NAME, run, __doc__ or NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
