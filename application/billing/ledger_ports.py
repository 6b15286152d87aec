"""Ports the credit ledger needs: grant and reservation storage that cannot overdraw."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from domain.billing.ledger import CreditGrant, GrantSpec, Reservation

if TYPE_CHECKING:
    from application.common.ports import UnitOfWork


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


class GrantSchedule(Protocol):
    """Grants a tenant is due at `now` (trial, the current period's credits).

    Called by the ledger inside its unit of work before reserving or reading the balance;
    returned specs are added idempotently by `grant_key`, so returning the same spec on every
    call is expected. The plan/subscription side implements it.
    """

    async def due_grants(
        self, uow: UnitOfWork, tenant_id: str, now: datetime
    ) -> list[GrantSpec]: ...
