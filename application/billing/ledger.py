"""The credit ledger service: grant, reserve, settle, release and adjust, each idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from application.billing.ledger_ports import (
    AtomicLedgerOperations,
    GrantSchedule,
    PeriodicGrantSchedule,
)
from application.common.ports import IdGenerator, UnitOfWork, UnitOfWorkFactory
from domain.billing.ledger import (
    DEFAULT_HOLD,
    INSUFFICIENT_CREDITS,
    NEVER_EXPIRES,
    CreditGrant,
    GrantSource,
    GrantSpec,
    Reservation,
    ReservationStatus,
    allocate,
    check_amount,
)
from domain.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound


async def ensure_grants(
    uow: UnitOfWork, ids: IdGenerator, tenant_id: str, specs: list[GrantSpec], now: datetime
) -> bool:
    """Add the grants whose `grant_key` the tenant does not have yet (inside `uow`); True
    when any was added (it then exists only once `uow` commits)."""
    added = False
    for spec in specs:
        grant = CreditGrant.create(ids.new_id(), tenant_id, spec, now)
        added = await uow.ledger.add_grant(grant) or added
    return added


def adjustment_grant_key(key: str) -> str:
    return f"adjust:{key}"


def adjustment_reservation_key(tenant_id: str, key: str) -> str:
    # Reservation keys are global; an operator's key is only unique within its tenant.
    return f"adjust:{tenant_id}:{key}"


# How long a process trusts that a tenant's due grants are in place without asking again, at
# most: a subscription changed by another process is seen within this time.
DUE_GRANTS_MEMORY = timedelta(seconds=60)
_MEMORY_TENANTS = 10_000


class _DueGrantsMemory:
    """Per tenant, the window [since, until) in which its due grants are known to exist."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[datetime, datetime]] = {}

    def covers(self, tenant_id: str, now: datetime) -> bool:
        window = self._windows.get(tenant_id)
        return window is not None and window[0] <= now < window[1]

    def remember(self, tenant_id: str, since: datetime, until: datetime) -> None:
        if len(self._windows) >= _MEMORY_TENANTS:
            self._windows.clear()  # cheap bound; forgetting only costs a re-check
        self._windows[tenant_id] = (since, min(until, since + DUE_GRANTS_MEMORY))


class CreditLedger:
    """Every movement of credits. Each method is one committed unit of work.

    - Grants are consumed earliest expiry first; a reservation is all or nothing and never
      takes a grant below zero (`FailedPrecondition("insufficient credits")`, code 9).
    - `reserve`, `settle`, `release` and `adjust` are idempotent by key: a replay changes
      nothing and returns the stored result.
    - Grants the tenant is due (trial, current period) come from the optional
      `GrantSchedule` and are added lazily, exactly once, before reserving or reading. With
      a `PeriodicGrantSchedule`, a committed check is remembered in this process until the
      credit period ends (at most `DUE_GRANTS_MEMORY`), so hot paths skip the lookups.
    - When the storage offers `AtomicLedgerOperations` (PostgreSQL), reserve, settle and
      release run as one statement each; a reserve then commits the due grants just before
      (harmless on its own: they are idempotent and owed anyway).
    - `reserve_in`, `settle_in`, `release_in` and `balance_in` do the same inside a caller's
      unit of work, which commits them together with its own writes (a chat turn: its
      messages). The caller keeps that transaction short: a reserve holds the tenant's grant
      rows locked until it ends.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        ids: IdGenerator,
        schedule: GrantSchedule | None = None,
    ) -> None:
        self._uow = uow_factory
        self._ids = ids
        self._schedule = schedule
        self._due_memory = _DueGrantsMemory()

    async def _ensure_due(self, uow: UnitOfWork, tenant_id: str, now: datetime) -> datetime | None:
        """Add the grants due at `now`; returns the instant to remember once `uow` commits.

        When every due grant was already there (committed: an insert that waited for a
        concurrent one only skips once that one committed), nothing hangs on `uow` and the
        check is remembered at once — so the `*_in` variants, which never see the commit,
        still skip the lookups on later calls. A grant added here is remembered only after
        the commit, if the caller reports it; else the next call checks again (idempotent).
        """
        schedule = self._schedule
        if schedule is None or self._due_memory.covers(tenant_id, now):
            return None
        until: datetime | None = None
        if isinstance(schedule, PeriodicGrantSchedule):
            specs, until = await schedule.due_grants_until(uow, tenant_id, now)
        else:
            specs = await schedule.due_grants(uow, tenant_id, now)
        if not await ensure_grants(uow, self._ids, tenant_id, specs, now):
            self._committed_due(tenant_id, now, until)
            return None
        return until

    def _committed_due(self, tenant_id: str, now: datetime, until: datetime | None) -> None:
        if until is not None:
            self._due_memory.remember(tenant_id, now, until)

    async def grant(self, tenant_id: str, spec: GrantSpec, now: datetime) -> CreditGrant:
        """Give credits once per `spec.grant_key`; a replay returns the grant already there."""
        async with self._uow() as uow:
            await ensure_grants(uow, self._ids, tenant_id, [spec], now)
            stored = await uow.ledger.get_grant_by_key(tenant_id, spec.grant_key)
            await uow.commit()
        if stored is None:  # pragma: no cover - the adapter just inserted or found it
            raise NotFound("grant not found")
        return stored

    async def balance(self, tenant_id: str, now: datetime) -> int:
        """Credits usable at `now` (after adding any grants due)."""
        async with self._uow() as uow:
            due_until = await self._ensure_due(uow, tenant_id, now)
            balance = await uow.ledger.balance(tenant_id, now)
            await uow.commit()
        self._committed_due(tenant_id, now, due_until)
        return balance

    async def commit_due(self, uow: UnitOfWork, tenant_id: str, now: datetime) -> None:
        """Add the grants due at `now` and commit `uow` (empty until then), so a statement
        run outside it — one-statement storage operations — finds them."""
        due_until = await self._ensure_due(uow, tenant_id, now)
        await uow.commit()
        self._committed_due(tenant_id, now, due_until)

    async def balance_in(self, uow: UnitOfWork, tenant_id: str, now: datetime) -> int:
        """`balance` inside the caller's unit of work (due grants added there, uncommitted)."""
        await self._ensure_due(uow, tenant_id, now)
        return await uow.ledger.balance(tenant_id, now)

    async def close_lapsed_allowances(self, now: datetime, limit: int) -> int:
        """Give back what credit allowances left behind by their process (it died, or went
        idle) hold unspent, once past their deadline; returns how many were closed."""
        async with self._uow() as uow:
            atomic = uow.ledger.atomic()
        if atomic is None:
            return 0
        return await atomic.close_lapsed_allowances(now, limit)

    async def usage_by_agent(
        self, tenant_id: str, since: datetime, until: datetime
    ) -> dict[str, int]:
        """Credits settled per agent with `since <= settled time < until`."""
        async with self._uow() as uow:
            return await uow.ledger.settled_by_agent(tenant_id, since, until)

    async def reserve(
        self,
        tenant_id: str,
        amount: int,
        key: str,
        agent_id: str,
        now: datetime,
        hold_until: datetime | None = None,
    ) -> Reservation:
        """Hold `amount` credits for one charge identified by `key` (e.g. the message id),
        until `hold_until` (default `now + DEFAULT_HOLD`): still held after it, the
        reservation is finished by recovery.

        - A replay with the same key returns the stored reservation, whatever its status;
          the same key for another tenant, agent or amount is `AlreadyExists`.
        - Two concurrent calls with one key: one reserves, the other returns its result.
        """
        _check_reservation(amount, key)
        for attempt in range(2):
            try:
                return await self._reserve_once(
                    tenant_id, amount, key, agent_id, now, hold_until or now + DEFAULT_HOLD
                )
            except AlreadyExists:
                # A concurrent transaction won a unique key (ours, or a lazy grant's).
                async with self._uow() as uow:
                    existing = await uow.ledger.get_reservation(key)
                if existing is not None:
                    return _replayed(existing, tenant_id, amount, agent_id)
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _reserve_once(
        self,
        tenant_id: str,
        amount: int,
        key: str,
        agent_id: str,
        now: datetime,
        hold_until: datetime,
    ) -> Reservation:
        charge = _Charge(tenant_id, amount, key, agent_id, now)
        async with self._uow() as uow:
            atomic = uow.ledger.atomic()
            if atomic is not None:
                # The due grants are committed first: the one-statement reserve runs on its
                # own. A used key raises AlreadyExists there, which `reserve` answers as a
                # replay.
                due_until = await self._ensure_due(uow, tenant_id, now)
                await uow.commit()
                self._committed_due(tenant_id, now, due_until)
                return await _reserve_atomic(uow, atomic, charge, hold_until)
            existing = await uow.ledger.get_reservation(key)
            if existing is not None:
                return _replayed(existing, tenant_id, amount, agent_id)
            due_until = await self._ensure_due(uow, tenant_id, now)
            reservation = await _reserve_steps(uow, charge, hold_until)
            await uow.commit()
        self._committed_due(tenant_id, now, due_until)
        return reservation

    async def reserve_in(
        self,
        uow: UnitOfWork,
        tenant_id: str,
        amount: int,
        key: str,
        agent_id: str,
        now: datetime,
        hold_until: datetime | None = None,
    ) -> Reservation:
        """`reserve` inside the caller's unit of work, committed (or undone) with it.

        For a fresh key only (e.g. a new message id): no replay. A used key raises
        `AlreadyExists` and may leave the transaction unusable (PostgreSQL): roll it back.
        Not enough credits: `FailedPrecondition`, with the transaction still usable.
        """
        _check_reservation(amount, key)
        # The commit is the caller's: due grants are remembered only when none was new.
        await self._ensure_due(uow, tenant_id, now)
        charge = _Charge(tenant_id, amount, key, agent_id, now)
        hold = hold_until or now + DEFAULT_HOLD
        atomic = uow.ledger.atomic(in_transaction=True)
        if atomic is not None:
            return await _reserve_atomic(uow, atomic, charge, hold)
        return await _reserve_steps(uow, charge, hold)

    async def settle(self, key: str, actual_amount: int, now: datetime) -> Reservation:
        """Spend `actual_amount` (0..reserved) of a reservation; the rest returns to its grants.

        - Settling again returns the stored result unchanged (even with another amount).
        - A released reservation cannot be settled (`FailedPrecondition`); an unknown key is
          `NotFound`.
        """
        check_amount("actual_amount", actual_amount, allow_zero=True)
        async with self._uow() as uow:
            reservation = await _settle(uow, uow.ledger.atomic(), key, actual_amount, now)
            await uow.commit()  # nothing left to commit after the one-statement path
        return reservation

    async def settle_in(
        self, uow: UnitOfWork, key: str, actual_amount: int, now: datetime
    ) -> Reservation:
        """`settle` inside the caller's unit of work, committed (or undone) with it."""
        check_amount("actual_amount", actual_amount, allow_zero=True)
        return await _settle(uow, uow.ledger.atomic(in_transaction=True), key, actual_amount, now)

    async def release(self, key: str, now: datetime) -> Reservation:
        """Return every reserved credit (the charge failed or was aborted).

        Releasing again, or after a settle, changes nothing and returns the stored
        reservation, so an abort path may call it unconditionally. Unknown key: `NotFound`.
        """
        async with self._uow() as uow:
            reservation = await _release(uow, uow.ledger.atomic(), key, now)
            await uow.commit()  # nothing left to commit after the one-statement path
        return reservation

    async def release_in(self, uow: UnitOfWork, key: str, now: datetime) -> Reservation:
        """`release` inside the caller's unit of work, committed (or undone) with it."""
        return await _release(uow, uow.ledger.atomic(in_transaction=True), key, now)

    async def adjust(
        self,
        tenant_id: str,
        amount: int,
        reason: str,
        expires_at: datetime | None,
        key: str,
        now: datetime,
    ) -> int:
        """An operator's correction; returns the balance usable at `now` afterwards.

        - Positive: a new ADJUSTMENT grant from `now` to `expires_at` (None: never expires;
          a past `expires_at` is `InvalidArgument`).
        - Negative: takes `-amount` from the usable grants, earliest expiry first, recorded as
          a settled debit with no agent. Refused with `FailedPrecondition("insufficient
          credits")` when the balance is smaller: the balance never goes below zero and the
          debit is never partial.
        - Zero is `InvalidArgument`. A replayed `key` changes nothing and returns the current
          balance.
        """
        if amount == 0:
            raise InvalidArgument("amount", "must not be zero")
        check_amount("amount", abs(amount))
        if not key:
            raise InvalidArgument("key", "must not be empty")
        until = NEVER_EXPIRES if expires_at is None else expires_at
        if amount > 0 and until <= now:
            raise InvalidArgument("expires_at", "must be in the future")
        grant_key = adjustment_grant_key(key)
        reservation_key = adjustment_reservation_key(tenant_id, key)
        async with self._uow() as uow:
            due_until = await self._ensure_due(uow, tenant_id, now)
            done = await uow.ledger.get_grant_by_key(tenant_id, grant_key) is not None
            done = done or await uow.ledger.get_reservation(reservation_key) is not None
            if not done and amount > 0:
                spec = GrantSpec(GrantSource.ADJUSTMENT, amount, now, until, grant_key)
                await ensure_grants(uow, self._ids, tenant_id, [spec], now)
            elif not done:
                # Settled at once: its hold ends as it starts.
                debit = await _take(uow, tenant_id, -amount, reservation_key, "", now, now)
                debit.reason = reason
                debit.settle(-amount, now)
                await uow.ledger.add_reservation(debit)
            balance = await uow.ledger.balance(tenant_id, now)
            await uow.commit()
        self._committed_due(tenant_id, now, due_until)
        return balance


def _check_reservation(amount: int, key: str) -> None:
    check_amount("amount", amount)
    if not key:
        raise InvalidArgument("key", "must not be empty")


@dataclass(frozen=True, slots=True)
class _Charge:
    """What one reserve asks for."""

    tenant_id: str
    amount: int
    key: str
    agent_id: str
    now: datetime


async def _reserve_steps(uow: UnitOfWork, charge: _Charge, hold_until: datetime) -> Reservation:
    """The generic reserve: take from the locked grants, then store the reservation."""
    reservation = await _take(
        uow, charge.tenant_id, charge.amount, charge.key, charge.agent_id, charge.now, hold_until
    )
    await uow.ledger.add_reservation(reservation)
    return reservation


async def _reserve_atomic(
    uow: UnitOfWork, atomic: AtomicLedgerOperations, charge: _Charge, hold_until: datetime
) -> Reservation:
    reservation = await atomic.reserve(
        charge.tenant_id, charge.amount, charge.key, charge.agent_id, charge.now, hold_until
    )
    if reservation is not None:
        return reservation
    existing = await uow.ledger.get_reservation(charge.key)
    if existing is not None:
        return _replayed(existing, charge.tenant_id, charge.amount, charge.agent_id)
    raise FailedPrecondition(INSUFFICIENT_CREDITS)


async def _settle(
    uow: UnitOfWork, atomic: AtomicLedgerOperations | None, key: str, amount: int, now: datetime
) -> Reservation:
    settled = None if atomic is None else await atomic.settle(key, amount, now)
    if settled is not None:
        return settled
    # Generic steps; after a fast-path miss they give the replay or the error.
    reservation = await _locked(uow, key)
    if reservation.status is ReservationStatus.SETTLED:
        return reservation
    returns = reservation.settle(amount, now)
    # The reservation row first: the grant rows (hot, shared by the tenant's turns) are then
    # locked only for the give-back and the commit.
    await uow.ledger.update_reservation(reservation)
    # Grant rows in consumption order, the order reservations lock them in.
    for allocation in reversed(returns):
        await uow.ledger.give_back(allocation.grant_id, allocation.amount)
    return reservation


async def _release(
    uow: UnitOfWork, atomic: AtomicLedgerOperations | None, key: str, now: datetime
) -> Reservation:
    released = None if atomic is None else await atomic.release(key, now)
    if released is not None:
        return released
    reservation = await _locked(uow, key)
    if reservation.status is not ReservationStatus.RESERVED:
        return reservation
    returns = reservation.release(now)
    await uow.ledger.update_reservation(reservation)
    for allocation in returns:
        await uow.ledger.give_back(allocation.grant_id, allocation.amount)
    return reservation


async def _take(
    uow: UnitOfWork,
    tenant_id: str,
    amount: int,
    key: str,
    agent_id: str,
    now: datetime,
    hold_until: datetime,
) -> Reservation:
    """Take `amount` from the tenant's usable grants (locked) and describe it as a reservation."""
    grants = await uow.ledger.usable_grants(tenant_id, now, for_update=True)
    allocations = allocate(grants, amount, now)
    for allocation in allocations:
        if not await uow.ledger.take(allocation.grant_id, allocation.amount):
            # Only without row locks: a concurrent reservation emptied the grant first.
            raise FailedPrecondition(INSUFFICIENT_CREDITS)
    return Reservation(
        key=key,
        tenant_id=tenant_id,
        agent_id=agent_id,
        amount=amount,
        allocations=allocations,
        created_at=now,
        expires_at=hold_until,
    )


async def _locked(uow: UnitOfWork, key: str) -> Reservation:
    reservation = await uow.ledger.get_reservation(key, for_update=True)
    if reservation is None:
        raise NotFound("reservation not found")
    return reservation


def _replayed(existing: Reservation, tenant_id: str, amount: int, agent_id: str) -> Reservation:
    if (existing.tenant_id, existing.amount, existing.agent_id) != (tenant_id, amount, agent_id):
        raise AlreadyExists("idempotency key was already used for another charge")
    return existing
