"""Random sequences of reserves, settles, releases, grants, clock moves and sweeps on
PostgreSQL, where a busy tenant spends from credit allowances: after every step the books
balance, no allowance is overspent, and the balance is exactly what the model expects."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from adapters.security.ids import UuidGenerator
from adapters.sql.billing.books import Books, read_books
from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.uow import SqlUnitOfWorkFactory
from application.billing.ledger import CreditLedger
from domain.billing.ledger import GrantSource, GrantSpec
from domain.errors import FailedPrecondition
from tests.integration.sql.factories import make_tenant, new_id, utc_now

pytestmark = pytest.mark.integration

T = TypeVar("T")

# Small grants keep turns on the grants themselves; large ones make the ledger draw
# allowances (at least MIN_TURNS_PER_DRAW * BALANCE_SHARE times a turn's cost).
grant_sizes = st.sampled_from([30, 2_000, 150_000])
costs = st.integers(min_value=1, max_value=40)


class AllowanceMachine(RuleBasedStateMachine):
    reserved = Bundle("reserved")
    database_url = ""
    most_allowances = 0  # over every example: the sequences did reach allowances

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.engine = create_engine(self.database_url, pool_size=4)
        self.ledger = CreditLedger(
            SqlUnitOfWorkFactory(create_sessionmaker(self.engine)), UuidGenerator()
        )
        self.now = utc_now()
        self.granted = 0
        self.holds: dict[str, int] = {}  # key → credits held
        self.spent = 0
        self.tenant_id = self.run(self._new_tenant())

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    async def _new_tenant(self) -> str:
        tenant = make_tenant()
        async with SqlUnitOfWorkFactory(create_sessionmaker(self.engine))() as uow:
            await uow.tenants.add(tenant)
            await uow.commit()
        return tenant.id

    def teardown(self) -> None:
        self.run(self.engine.dispose())
        self.loop.close()

    def books(self) -> Books:
        return self.run(read_books(self.engine, self.tenant_id))

    @rule(credits=grant_sizes)
    def grant(self, credits: int) -> None:
        spec = GrantSpec(
            GrantSource.ADDON,
            credits,
            self.now - timedelta(hours=1),
            self.now + timedelta(days=30),
            f"addon:{new_id()}",
        )
        self.run(self.ledger.grant(self.tenant_id, spec, self.now))
        self.granted += credits

    @rule(target=reserved, cost=costs)
    def reserve(self, cost: int) -> str:
        key = new_id()
        usable = self.granted - sum(self.holds.values()) - self.spent
        try:
            self.run(self.ledger.reserve(self.tenant_id, cost, key, "agent-1", self.now))
        except FailedPrecondition:
            # Exact on the grants alone; credits in a retired allowance still finishing
            # its charges are not lent to other charges meanwhile.
            assert usable < cost or self.books().allowances > 0
            return ""
        assert usable >= cost
        self.holds[key] = cost
        return key

    @rule(key=consumes(reserved), share=st.floats(min_value=0, max_value=1))
    def settle(self, key: str, share: float) -> None:
        if not key:
            return
        cost = self.holds.pop(key)
        spend = int(cost * share)
        self.run(self.ledger.settle(key, spend, self.now))
        self.spent += spend

    @rule(key=consumes(reserved))
    def release(self, key: str) -> None:
        if not key:
            return
        self.holds.pop(key)
        self.run(self.ledger.release(key, self.now))

    @rule(seconds=st.integers(min_value=1, max_value=40))
    def wait(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule()
    def sweep(self) -> None:
        self.run(self.ledger.close_lapsed_allowances(self.now, 10_000))

    @invariant()
    def books_balance_and_the_balance_is_exact(self) -> None:
        books = self.books()
        assert books.balanced, books
        assert books.overspent == 0, books
        assert books.granted == self.granted
        AllowanceMachine.most_allowances = max(AllowanceMachine.most_allowances, books.allowances)
        expected = self.granted - sum(self.holds.values()) - self.spent
        assert self.run(self.ledger.balance(self.tenant_id, self.now)) == expected


def test_allowances_keep_the_books_under_random_sequences(migrated_database_url: str) -> None:
    AllowanceMachine.database_url = migrated_database_url
    machine = AllowanceMachine.TestCase
    machine.settings = settings(
        max_examples=15,
        stateful_step_count=30,
        deadline=None,
        # The same sequences every run (as under CI): the check below cannot flake.
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    machine().runTest()
    # The sequences did reach allowances (redrawing is `test_credit_allowances.py`'s).
    assert AllowanceMachine.most_allowances >= 1
