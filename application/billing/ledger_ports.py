"""Ports the credit ledger needs: grant and reservation storage that cannot overdraw."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from domain.billing.ledger import CreditGrant, GrantSpec, Reservation

if TYPE_CHECKING:
    from application.common.ports import UnitOfWork


class AtomicLedgerOperations(Protocol):
    """Reserve, settle and release each as one statement, for storage that can (PostgreSQL).

    Same results as the service's generic steps (earliest expiry first, the unspent part
    returned latest expiry first, all or nothing), with the hot grant rows locked for one
    statement instead of several round trips.

    Unless obtained with `atomic(in_transaction=True)`, each call is its own transaction,
    committed when it returns (the statement is atomic by itself); it does not see, and is
    not undone with, the caller's unit of work, so call it with nothing uncommitted there.
    """

    async def reserve(
        self,
        tenant_id: str,
        amount: int,
        key: str,
        agent_id: str,
        now: datetime,
        hold_until: datetime,
    ) -> Reservation | None:
        """Take `amount` from the usable grants and insert the RESERVED reservation, held
        until `hold_until` (its deadline).

        None, with nothing changed, when the usable balance is smaller (or the key is already
        used while the balance is smaller). A key already used raises `AlreadyExists`, with
        nothing changed.
        """
        ...

    async def settle(self, key: str, actual_amount: int, now: datetime) -> Reservation | None:
        """Settle a RESERVED reservation holding at least `actual_amount` and give the rest
        back; None, with nothing changed, when no such reservation exists."""
        ...

    async def release(self, key: str, now: datetime) -> Reservation | None:
        """Release a RESERVED reservation, giving everything back; None when none matched."""
        ...

    async def close_lapsed_allowances(self, now: datetime, limit: int) -> int:
        """Close up to `limit` credit allowances past their deadline whose charges have all
        ended, whichever process drew them (their unspent credits go back to the grants);
        returns how many were closed. Storage without allowances closes none."""
        ...


class LedgerRepository(Protocol):
    """Credit grants and reservations of every tenant, inside one unit of work.

    Concurrency contract (what makes reservations safe on PostgreSQL):
    - storage enforces `0 <= remaining <= amount` on every grant (a CHECK constraint), a
      unique `(tenant_id, grant_key)` and a unique reservation `key`;
    - `take` is one conditional statement, so two transactions can never both spend the
      same credits, even without locks;
    - the ledger service reads with `for_update=True` before taking, which serializes
      reservations of one tenant and makes the earliest-expiry-first choice exact.
    """

    async def add_grant(self, grant: CreditGrant) -> bool:
        """Insert a grant; False (and nothing changed) when the tenant already has one with
        the same `grant_key`.

        Must not abort the transaction on a duplicate (SQL: `INSERT … ON CONFLICT
        (tenant_id, grant_key) DO NOTHING`), so lazy grants can be ensured inside any use
        case. Two transactions racing on one key: exactly one inserts.
        """
        ...

    async def get_grant_by_key(self, tenant_id: str, grant_key: str) -> CreditGrant | None: ...

    async def extend_grant(self, tenant_id: str, grant_key: str, expires_at: datetime) -> bool:
        """Move the expiry of the tenant's grant with this key (e.g. a trial whose end moved);
        False when there is no such grant (it will be created with the new expiry later).
        `remaining` is untouched."""
        ...

    async def raise_grant(self, tenant_id: str, grant_key: str, amount: int) -> int:
        """Lift the grant with this key to `amount` if it holds less, adding the difference
        to `remaining` too (an upgrade tops the month's credits up to the new plan's);
        returns the credits added, 0 when it already held as much or does not exist."""
        ...

    async def revoke_unused(self, tenant_id: str, grant_key: str, now: datetime) -> int:
        """Take back what is still unused of the grant (a refund): `amount` and `remaining`
        drop by `remaining`, and it expires at `now` so credits returned to it later by a
        released hold are not usable. Returns the credits taken back (0 the second time)."""
        ...

    async def usable_grants(
        self, tenant_id: str, now: datetime, *, for_update: bool = False
    ) -> list[CreditGrant]:
        """Grants with `starts_at <= now < expires_at` and `remaining > 0`, in consumption
        order (`expires_at`, `starts_at`, `id`).

        `for_update=True` locks the returned rows until the transaction ends (SQL:
        `SELECT … ORDER BY expires_at, starts_at, id FOR UPDATE`; the fixed order keeps
        concurrent lockers from deadlocking).
        """
        ...

    async def active_grants(self, tenant_id: str, now: datetime) -> list[CreditGrant]:
        """Grants with `starts_at <= now < expires_at`, spent ones included, in consumption
        order. For usage reports (total granted vs. used); takes no locks."""
        ...

    async def take(self, grant_id: str, amount: int) -> bool:
        """Lower `remaining` by `amount` only if at least `amount` is left; True if it did.

        SQL: `UPDATE … SET remaining = remaining - :n WHERE id = :id AND remaining >= :n`
        (rowcount 1). Under concurrency the row lock makes the second taker re-check the
        condition against the committed value, so the sum taken never exceeds the grant.
        """
        ...

    async def give_back(self, grant_id: str, amount: int) -> None:
        """Raise `remaining` by `amount`. Callers only return what a reservation took, so
        `remaining <= amount` holds; storage still refuses a violation (CHECK). Works on
        expired grants too: returned credits then expire unused."""
        ...

    async def get_reservation(self, key: str, *, for_update: bool = False) -> Reservation | None:
        """The reservation with this idempotency key, with its allocations, or None.

        Keys are global (message ids), not per tenant. `for_update=True` locks the row until
        the transaction ends (settle and release read this way).
        """
        ...

    async def add_reservation(self, reservation: Reservation) -> None:
        """Insert a reservation with its allocations.

        Raises `AlreadyExists` when the key is taken — possibly only at commit, when a
        concurrent transaction inserted it first; the caller then rolls back (undoing its
        takes) and treats the call as a replay.
        """
        ...

    async def update_reservation(self, reservation: Reservation) -> None:
        """Store the move out of RESERVED (status, `settled_amount`, `resolved_at`).

        Conditional: only a row still RESERVED is changed (SQL: `UPDATE … WHERE key = :key
        AND status = 'RESERVED'`); raises `FailedPrecondition` when none matched, so a
        settle and a release racing on one key can never both return credits. Allocations
        never change after insert.
        """
        ...

    async def settled_by_agent(
        self, tenant_id: str, since: datetime, until: datetime
    ) -> dict[str, int]:
        """Sum of `settled_amount` of SETTLED reservations with `since <= resolved_at <
        until`, per non-empty `agent_id` (operator debits have none and are left out).
        Agents with nothing settled are absent."""
        ...

    async def balance(self, tenant_id: str, now: datetime) -> int:
        """Sum of `remaining` of the usable grants at `now` (no locks)."""
        ...

    async def expired_holds(self, now: datetime, limit: int) -> list[Reservation]:
        """Up to `limit` RESERVED reservations whose deadline is before `now`, oldest
        deadline first, of every tenant (recovery; no locks)."""
        ...

    def atomic(self, *, in_transaction: bool = False) -> AtomicLedgerOperations | None:
        """One-statement operations when the storage has them, else None (the service then
        uses the steps above).

        `in_transaction=True`: the statements run inside this unit of work instead of each in
        its own transaction — they see its uncommitted rows, commit or roll back with it, and
        keep the grant rows they touch locked until then.
        """
        ...


class GrantSchedule(Protocol):
    """Grants a tenant is due at `now` (trial, the current period's credits).

    Called by the ledger inside its unit of work before reserving or reading the balance;
    returned specs are added idempotently by `grant_key`, so returning the same spec on every
    call is expected. The plan/subscription side implements it.
    """

    async def due_grants(
        self, uow: UnitOfWork, tenant_id: str, now: datetime
    ) -> list[GrantSpec]: ...


@runtime_checkable
class PeriodicGrantSchedule(GrantSchedule, Protocol):
    """A schedule that also says how long its answer holds, so the ledger can skip asking.

    The ledger remembers per process and tenant that the due grants are in place until the
    returned instant (capped at a short age, so subscription changes made elsewhere are seen
    soon); a stale memory only costs an idempotent re-check, never a double grant.
    """

    async def due_grants_until(
        self, uow: UnitOfWork, tenant_id: str, now: datetime
    ) -> tuple[list[GrantSpec], datetime]:
        """`due_grants` plus the end of the credit period holding `now`: until then the
        same grants are due."""
        ...
