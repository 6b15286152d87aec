"""Random sequences of ledger operations keep the books balanced after every step."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, multiple, rule

from domain.billing.ledger import (
    CreditGrant,
    GrantSource,
    GrantSpec,
    Reservation,
    ReservationStatus,
    consumption_order,
)
from domain.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from tests.unit.billing.ledger_kit import LedgerKit

T = TypeVar("T")

tenants = st.sampled_from(["t1", "t2"])
keys = st.sampled_from(["k0", "k1", "k2", "k3"])
agents = st.sampled_from(["a1", "a2"])
amounts = st.integers(min_value=1, max_value=60)


class LedgerMachine(RuleBasedStateMachine):
    """Model: what every key did the first time; the store must agree after every step."""

    reservation_keys = Bundle("reservation_keys")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.kit = LedgerKit()
        self.reserved: dict[str, tuple[str, int, str]] = {}  # key → (tenant, amount, agent)
        self.adjusted: set[tuple[str, str]] = set()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        self.loop.close()

    @property
    def ledger_state(self) -> Any:
        return copy.deepcopy(self.kit.store.ledger)

    def grants(self, tenant_id: str) -> list[CreditGrant]:
        found = self.kit.store.ledger.grants.values()
        return [g for g in found if g.tenant_id == tenant_id]

    def reservations(self, tenant_id: str) -> list[Reservation]:
        found = self.kit.store.ledger.reservations.values()
        return [r for r in found if r.tenant_id == tenant_id]

    def usable(self, tenant_id: str) -> int:
        return sum(g.remaining for g in self.grants(tenant_id) if g.is_usable(self.kit.now))

    @initialize(
        amount=st.integers(min_value=20, max_value=100),
        hours=st.integers(min_value=6, max_value=96),
    )
    def base_grants(self, amount: int, hours: int) -> None:
        for tenant in ("t1", "t2"):
            spec = GrantSpec(
                GrantSource.TRIAL,
                amount,
                self.kit.now,
                self.kit.now + timedelta(hours=hours),
                "base",
            )
            self.run(self.kit.ledger.grant(tenant, spec, self.kit.now))

    @rule(
        tenant=tenants,
        amount=amounts,
        starts_in=st.integers(min_value=-5, max_value=5),
        hours=st.integers(min_value=1, max_value=72),
        key=keys,
    )
    def grant(self, tenant: str, amount: int, starts_in: int, hours: int, key: str) -> None:
        starts_at = self.kit.now + timedelta(hours=starts_in)
        spec = GrantSpec(
            GrantSource.PERIOD, amount, starts_at, starts_at + timedelta(hours=hours), key
        )
        existed = any(g.grant_key == key for g in self.grants(tenant))
        before = self.ledger_state

        self.run(self.kit.ledger.grant(tenant, spec, self.kit.now))

        if existed:
            assert self.kit.store.ledger == before

    @rule(target=reservation_keys, tenant=tenants, amount=amounts, key=keys, agent=agents)
    def reserve(self, tenant: str, amount: int, key: str, agent: str) -> Any:
        before, balance = self.ledger_state, self.usable(tenant)
        order = sorted(
            (
                g
                for g in before.grants.values()
                if g.tenant_id == tenant and g.is_usable(self.kit.now)
            ),
            key=consumption_order,
        )
        try:
            reservation = self.run(self.kit.reserve(amount, key, agent_id=agent, tenant_id=tenant))
        except AlreadyExists:
            assert key in self.reserved
            assert self.reserved[key] != (tenant, amount, agent)
            assert self.kit.store.ledger == before
            return multiple()
        except FailedPrecondition:
            assert key not in self.reserved
            assert balance < amount
            assert self.kit.store.ledger == before
            return multiple()
        if key in self.reserved:
            assert self.kit.store.ledger == before
            assert reservation == before.reservations[key]
            return key
        self.reserved[key] = (tenant, amount, agent)
        assert self.usable(tenant) == balance - amount
        # Earliest expiry first: any usable grant expiring before the last one used is empty.
        taken = {a.grant_id: a.amount for a in reservation.allocations}
        last_expiry = max(g.expires_at for g in order if g.id in taken)
        for grant in order:
            if grant.expires_at < last_expiry:
                assert taken.get(grant.id) == grant.remaining
        event("reserve: new")
        return key

    @rule(key=reservation_keys | keys, actual=st.integers(min_value=0, max_value=60))
    def settle(self, key: str, actual: int) -> None:
        before = self.ledger_state
        stored = before.reservations.get(key)
        try:
            result = self.run(self.kit.ledger.settle(key, actual, self.kit.now))
        except NotFound:
            assert stored is None
            return
        except (FailedPrecondition, InvalidArgument):
            assert stored is not None
            is_released = stored.status is ReservationStatus.RELEASED
            assert is_released or actual > stored.amount
            assert self.kit.store.ledger == before
            return
        assert stored is not None
        if stored.status is ReservationStatus.SETTLED:
            assert result == stored
            assert self.kit.store.ledger == before
        else:
            assert result.settled_amount == actual
            event("settle: new")

    @rule(key=reservation_keys | keys)
    def release(self, key: str) -> None:
        before = self.ledger_state
        stored = before.reservations.get(key)
        try:
            result = self.run(self.kit.ledger.release(key, self.kit.now))
        except NotFound:
            assert stored is None
            return
        assert stored is not None
        if stored.status is not ReservationStatus.RESERVED:
            assert result == stored
            assert self.kit.store.ledger == before
        else:
            assert result.status is ReservationStatus.RELEASED
            event("release: new")

    @rule(hours=st.integers(min_value=1, max_value=48))
    def advance_clock(self, hours: int) -> None:
        self.kit.clock.advance(hours=hours)

    @rule(
        tenant=tenants,
        amount=st.integers(min_value=-40, max_value=-1) | st.integers(min_value=1, max_value=40),
        key=keys,
    )
    def adjust(self, tenant: str, amount: int, key: str) -> None:
        before, balance = self.ledger_state, self.usable(tenant)
        expires = self.kit.now + timedelta(hours=24)
        try:
            result = self.run(
                self.kit.ledger.adjust(tenant, amount, "r", expires, key, self.kit.now)
            )
        except FailedPrecondition:
            assert (tenant, key) not in self.adjusted
            assert amount < 0
            assert balance < -amount
            assert self.kit.store.ledger == before
            return
        if (tenant, key) in self.adjusted:
            assert self.kit.store.ledger == before
            assert result == balance
        else:
            self.adjusted.add((tenant, key))
            assert result == balance + amount
            event("adjust: new")

    @invariant()
    def grants_stay_within_zero_and_their_amount(self) -> None:
        for grant in self.kit.store.ledger.grants.values():
            assert 0 <= grant.remaining <= grant.amount

    @invariant()
    def balance_is_the_remaining_of_usable_grants(self) -> None:
        for tenant in ("t1", "t2"):
            assert self.run(self.kit.balance(tenant)) == self.usable(tenant)

    @invariant()
    def every_granted_credit_is_remaining_spent_or_held(self) -> None:
        # remaining covers usable, expired-unused and not-yet-started credits alike.
        for tenant in ("t1", "t2"):
            granted = sum(g.amount for g in self.grants(tenant))
            remaining = sum(g.remaining for g in self.grants(tenant))
            reservations = self.reservations(tenant)
            settled = sum(
                r.settled_amount for r in reservations if r.status is ReservationStatus.SETTLED
            )
            held = sum(r.outstanding for r in reservations)
            assert granted == remaining + settled + held

    @invariant()
    def reservations_are_allocated_exactly_from_their_tenants_grants(self) -> None:
        grants = self.kit.store.ledger.grants
        for reservation in self.kit.store.ledger.reservations.values():
            assert sum(a.amount for a in reservation.allocations) == reservation.amount
            for allocation in reservation.allocations:
                assert grants[allocation.grant_id].tenant_id == reservation.tenant_id


LedgerMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestLedgerStateMachine = LedgerMachine.TestCase
