"""An in-process credit ledger with the guarantees of the SQL one, for tests and embedding."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime

from application.billing.ledger_ports import AtomicLedgerOperations, LedgerRepository
from domain.billing.ledger import (
    INSUFFICIENT_CREDITS,
    CreditGrant,
    Reservation,
    ReservationStatus,
    consumption_order,
)
from domain.errors import AlreadyExists, FailedPrecondition


@dataclass
class LedgerStore:
    """Committed grants (by id) and reservations (by key)."""

    grants: dict[str, CreditGrant] = field(default_factory=dict)
    reservations: dict[str, Reservation] = field(default_factory=dict)


class InMemoryLedgerRepository(LedgerRepository):
    """One transaction's view of a `LedgerStore`; nothing is visible to others before `apply`.

    Takes are kept as deltas and re-checked against the committed rows at `apply`, so two
    transactions spending the same credits cannot both commit — the memory equivalent of
    the conditional UPDATE plus CHECK constraint of the SQL adapter.
    """

    def __init__(self, store: LedgerStore) -> None:
        self._store = store
        self._new_grants: dict[str, CreditGrant] = {}
        self._deltas: dict[str, int] = {}
        self._new_reservations: dict[str, Reservation] = {}
        self._resolved: dict[str, Reservation] = {}
        self._expiries: dict[str, datetime] = {}
        self._amount_deltas: dict[str, int] = {}

    def _grant(self, grant_id: str) -> CreditGrant | None:
        base = self._new_grants.get(grant_id) or self._store.grants.get(grant_id)
        if base is None:
            return None
        grant = copy.deepcopy(base)
        grant.remaining += self._deltas.get(grant_id, 0)
        grant.amount += self._amount_deltas.get(grant_id, 0)
        grant.expires_at = self._expiries.get(grant_id, grant.expires_at)
        return grant

    def _tenant_grants(self, tenant_id: str) -> list[CreditGrant]:
        ids = [g.id for g in self._store.grants.values() if g.tenant_id == tenant_id]
        ids += [g.id for g in self._new_grants.values() if g.tenant_id == tenant_id]
        grants = [grant for grant_id in ids if (grant := self._grant(grant_id)) is not None]
        return sorted(grants, key=consumption_order)

    async def add_grant(self, grant: CreditGrant) -> bool:
        if await self.get_grant_by_key(grant.tenant_id, grant.grant_key) is not None:
            return False
        if grant.id in self._store.grants or grant.id in self._new_grants:
            raise AlreadyExists("grant id already exists")
        self._new_grants[grant.id] = copy.deepcopy(grant)
        return True

    async def get_grant_by_key(self, tenant_id: str, grant_key: str) -> CreditGrant | None:
        found = [g for g in self._tenant_grants(tenant_id) if g.grant_key == grant_key]
        return found[0] if found else None

    async def extend_grant(self, tenant_id: str, grant_key: str, expires_at: datetime) -> bool:
        grant = await self.get_grant_by_key(tenant_id, grant_key)
        if grant is None:
            return False
        self._expiries[grant.id] = expires_at
        return True

    async def raise_grant(self, tenant_id: str, grant_key: str, amount: int) -> int:
        grant = await self.get_grant_by_key(tenant_id, grant_key)
        if grant is None or grant.amount >= amount:
            return 0
        added = amount - grant.amount
        self._amount_deltas[grant.id] = self._amount_deltas.get(grant.id, 0) + added
        self._deltas[grant.id] = self._deltas.get(grant.id, 0) + added
        return added

    async def revoke_unused(self, tenant_id: str, grant_key: str, now: datetime) -> int:
        grant = await self.get_grant_by_key(tenant_id, grant_key)
        if grant is None or grant.remaining == 0:
            return 0
        taken = grant.remaining
        self._amount_deltas[grant.id] = self._amount_deltas.get(grant.id, 0) - taken
        self._deltas[grant.id] = self._deltas.get(grant.id, 0) - taken
        self._expiries[grant.id] = min(grant.expires_at, now)
        return taken

    async def usable_grants(
        self, tenant_id: str, now: datetime, *, for_update: bool = False
    ) -> list[CreditGrant]:
        # No lock needed: `apply` re-checks every take against the committed rows.
        return [g for g in self._tenant_grants(tenant_id) if g.is_usable(now)]

    async def active_grants(self, tenant_id: str, now: datetime) -> list[CreditGrant]:
        return [g for g in self._tenant_grants(tenant_id) if g.is_active(now)]

    async def take(self, grant_id: str, amount: int) -> bool:
        grant = self._grant(grant_id)
        if grant is None or amount < 0 or grant.remaining < amount:
            return False
        self._deltas[grant_id] = self._deltas.get(grant_id, 0) - amount
        return True

    async def give_back(self, grant_id: str, amount: int) -> None:
        grant = self._grant(grant_id)
        if grant is None or amount < 0 or grant.remaining + amount > grant.amount:
            raise FailedPrecondition("cannot return more credits than were granted")
        self._deltas[grant_id] = self._deltas.get(grant_id, 0) + amount

    async def get_reservation(self, key: str, *, for_update: bool = False) -> Reservation | None:
        found = (
            self._resolved.get(key)
            or self._new_reservations.get(key)
            or self._store.reservations.get(key)
        )
        return copy.deepcopy(found)

    async def add_reservation(self, reservation: Reservation) -> None:
        key = reservation.key
        if key in self._new_reservations or key in self._store.reservations:
            raise AlreadyExists("reservation key already used")
        self._new_reservations[key] = copy.deepcopy(reservation)

    async def update_reservation(self, reservation: Reservation) -> None:
        current = await self.get_reservation(reservation.key)
        if current is None or current.status is not ReservationStatus.RESERVED:
            raise FailedPrecondition("reservation is no longer reserved")
        if reservation.key in self._new_reservations:
            self._new_reservations[reservation.key] = copy.deepcopy(reservation)
        else:
            self._resolved[reservation.key] = copy.deepcopy(reservation)

    async def expired_holds(self, now: datetime, limit: int) -> list[Reservation]:
        visible = {**self._store.reservations, **self._new_reservations, **self._resolved}
        expired = [
            r
            for r in visible.values()
            if r.status is ReservationStatus.RESERVED and r.expires_at < now
        ]
        expired.sort(key=lambda r: (r.expires_at, r.key))
        return copy.deepcopy(expired[:limit])

    async def settled_by_agent(
        self, tenant_id: str, since: datetime, until: datetime
    ) -> dict[str, int]:
        visible = {**self._store.reservations, **self._new_reservations, **self._resolved}
        totals: dict[str, int] = {}
        for reservation in visible.values():
            if (
                reservation.tenant_id == tenant_id
                and reservation.agent_id
                and reservation.status is ReservationStatus.SETTLED
                and reservation.resolved_at is not None
                and since <= reservation.resolved_at < until
            ):
                agent = reservation.agent_id
                totals[agent] = totals.get(agent, 0) + reservation.settled_amount
        return totals

    async def balance(self, tenant_id: str, now: datetime) -> int:
        return sum(g.remaining for g in await self.usable_grants(tenant_id, now))

    def atomic(self, *, in_transaction: bool = False) -> AtomicLedgerOperations | None:
        return None  # the generic steps are already atomic here (checked at `apply`)

    def apply(self) -> None:
        """Commit: check everything against the committed state first, then write it all."""
        store = self._store
        for grant in self._new_grants.values():
            if grant.id in store.grants or any(
                g.tenant_id == grant.tenant_id and g.grant_key == grant.grant_key
                for g in store.grants.values()
            ):
                raise AlreadyExists("grant key already used")
        for grant_id, delta in self._deltas.items():
            base = self._new_grants.get(grant_id) or store.grants[grant_id]
            amount = base.amount + self._amount_deltas.get(grant_id, 0)
            if not 0 <= base.remaining + delta <= amount:
                raise FailedPrecondition(INSUFFICIENT_CREDITS)
        for key in self._new_reservations:
            if key in store.reservations:
                raise AlreadyExists("reservation key already used")
        for key in self._resolved:
            if store.reservations[key].status is not ReservationStatus.RESERVED:
                raise FailedPrecondition("reservation is no longer reserved")
        store.grants.update(self._new_grants)
        for grant_id, delta in self._deltas.items():
            store.grants[grant_id].remaining += delta
        for grant_id, delta in self._amount_deltas.items():
            store.grants[grant_id].amount += delta
        for grant_id, expires_at in self._expiries.items():
            store.grants[grant_id].expires_at = expires_at
        store.reservations.update(self._new_reservations)
        store.reservations.update(self._resolved)
        self._new_grants, self._deltas = {}, {}
        self._new_reservations, self._resolved = {}, {}
        self._expiries, self._amount_deltas = {}, {}
