"""SQL credit ledger: conditional takes that cannot overdraw, and idempotent reservations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, bindparam, case, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from adapters.sql.billing.allowances import OTHERS_FREE_SQL, CreditAllowances
from adapters.sql.billing.ledger_atomic import PostgresAtomicLedger
from adapters.sql.billing.ledger_records import (
    CreditGrantRecord,
    CreditReservationRecord,
    grant_to_domain,
    grant_to_row,
    reservation_to_domain,
    reservation_to_row,
)
from adapters.sql.billing.statements import insert_unless_present, rowcount
from adapters.sql.errors import translate_unavailable
from application.billing.ledger_ports import AtomicLedgerOperations, LedgerRepository
from domain.billing.ledger import CreditGrant, Reservation, ReservationStatus
from domain.errors import AlreadyExists, FailedPrecondition

# Core tables, not ORM entities: rows changed by `take` are never served stale from an
# identity map, and a hot reservation path skips the ORM's bookkeeping.
_GRANTS: Table = CreditGrantRecord.__table__  # type: ignore[assignment]
_RESERVATIONS: Table = CreditReservationRecord.__table__  # type: ignore[assignment]
_RESERVED = ReservationStatus.RESERVED.value


class SqlLedgerRepository(LedgerRepository):
    def __init__(self, session: AsyncSession, allowances: CreditAllowances | None = None) -> None:
        self._session = session
        self._allowances = allowances

    def atomic(self, *, in_transaction: bool = False) -> AtomicLedgerOperations | None:
        # SQLite's single writer already serializes the generic steps; only PostgreSQL has
        # (and needs) the one-statement path.
        bind = self._session.bind
        if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
            if in_transaction:
                return PostgresAtomicLedger(self._session)
            return PostgresAtomicLedger(bind, self._allowances)
        return None

    @translate_unavailable
    async def add_grant(self, grant: CreditGrant) -> bool:
        return await insert_unless_present(self._session, _GRANTS, grant_to_row(grant))

    @translate_unavailable
    async def get_grant_by_key(self, tenant_id: str, grant_key: str) -> CreditGrant | None:
        row = (
            await self._session.execute(
                select(_GRANTS).where(
                    _GRANTS.c.tenant_id == tenant_id, _GRANTS.c.grant_key == grant_key
                )
            )
        ).first()
        return grant_to_domain(row) if row is not None else None

    @translate_unavailable
    async def extend_grant(self, tenant_id: str, grant_key: str, expires_at: datetime) -> bool:
        result = await self._session.execute(
            update(_GRANTS)
            .where(_GRANTS.c.tenant_id == tenant_id, _GRANTS.c.grant_key == grant_key)
            .values(expires_at=expires_at)
        )
        return rowcount(result) == 1

    @translate_unavailable
    async def raise_grant(self, tenant_id: str, grant_key: str, amount: int) -> int:
        grant = await self.get_grant_by_key(tenant_id, grant_key)
        if grant is None or grant.amount >= amount:
            return 0
        # Conditional on the amount read, so two raises cannot both add the difference.
        result = await self._session.execute(
            update(_GRANTS)
            .where(_GRANTS.c.id == grant.id, _GRANTS.c.amount == grant.amount)
            .values(remaining=_GRANTS.c.remaining + (amount - grant.amount), amount=amount)
        )
        return amount - grant.amount if rowcount(result) == 1 else 0

    @translate_unavailable
    async def revoke_unused(self, tenant_id: str, grant_key: str, now: datetime) -> int:
        grant = await self.get_grant_by_key(tenant_id, grant_key)
        if grant is None or grant.remaining == 0:
            return 0
        result = await self._session.execute(
            update(_GRANTS)
            .where(_GRANTS.c.id == grant.id, _GRANTS.c.remaining == grant.remaining)
            .values(
                amount=_GRANTS.c.amount - _GRANTS.c.remaining,
                remaining=0,
                expires_at=case((_GRANTS.c.expires_at > now, now), else_=_GRANTS.c.expires_at),
            )
        )
        return grant.remaining if rowcount(result) == 1 else 0

    @translate_unavailable
    async def usable_grants(
        self, tenant_id: str, now: datetime, *, for_update: bool = False
    ) -> list[CreditGrant]:
        statement = _active(tenant_id, now).where(_GRANTS.c.remaining > 0)
        if for_update:
            # PostgreSQL locks rows in ORDER BY order, so concurrent lockers never deadlock.
            # SQLite ignores FOR UPDATE: its single writer serializes the takes anyway.
            statement = statement.with_for_update()
        rows = await self._session.execute(statement)
        return [grant_to_domain(row) for row in rows]

    @translate_unavailable
    async def active_grants(self, tenant_id: str, now: datetime) -> list[CreditGrant]:
        rows = await self._session.execute(_active(tenant_id, now))
        return [grant_to_domain(row) for row in rows]

    @translate_unavailable
    async def take(self, grant_id: str, amount: int) -> bool:
        # One conditional statement: a concurrent taker blocks on the row lock, then
        # re-checks `remaining >= amount` against the committed value (PostgreSQL
        # READ COMMITTED), so the sum taken never exceeds the grant.
        result = await self._session.execute(
            update(_GRANTS)
            .where(_GRANTS.c.id == grant_id, _GRANTS.c.remaining >= amount)
            .values(remaining=_GRANTS.c.remaining - amount)
        )
        return rowcount(result) == 1

    @translate_unavailable
    async def give_back(self, grant_id: str, amount: int) -> None:
        await self._session.execute(
            update(_GRANTS)
            .where(_GRANTS.c.id == grant_id)
            .values(remaining=_GRANTS.c.remaining + amount)
        )

    @translate_unavailable
    async def get_reservation(self, key: str, *, for_update: bool = False) -> Reservation | None:
        statement = select(_RESERVATIONS).where(_RESERVATIONS.c.key == key)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._session.execute(statement)).first()
        return reservation_to_domain(row) if row is not None else None

    @translate_unavailable
    async def add_reservation(self, reservation: Reservation) -> None:
        row = reservation_to_row(reservation)
        if not await insert_unless_present(self._session, _RESERVATIONS, row):
            raise AlreadyExists("reservation key already used")

    @translate_unavailable
    async def update_reservation(self, reservation: Reservation) -> None:
        result = await self._session.execute(
            update(_RESERVATIONS)
            .where(_RESERVATIONS.c.key == reservation.key, _RESERVATIONS.c.status == _RESERVED)
            .values(
                status=reservation.status.value,
                settled_amount=reservation.settled_amount,
                resolved_at=reservation.resolved_at,
            )
        )
        if rowcount(result) != 1:
            raise FailedPrecondition("reservation is no longer reserved")

    @translate_unavailable
    async def expired_holds(self, now: datetime, limit: int) -> list[Reservation]:
        rows = await self._session.execute(
            select(_RESERVATIONS)
            .where(
                _RESERVATIONS.c.status == _RESERVED,
                _RESERVATIONS.c.expires_at < now,
                # Allowances are not charges: the sweep closes them (`allowances.py`).
                _RESERVATIONS.c.kind == "charge",
            )
            .order_by(_RESERVATIONS.c.expires_at, _RESERVATIONS.c.key)
            .limit(limit)
        )
        return [reservation_to_domain(row) for row in rows]

    @translate_unavailable
    async def settled_by_agent(
        self, tenant_id: str, since: datetime, until: datetime
    ) -> dict[str, int]:
        rows = await self._session.execute(
            select(_RESERVATIONS.c.agent_id, func.sum(_RESERVATIONS.c.settled_amount))
            .where(
                _RESERVATIONS.c.tenant_id == tenant_id,
                _RESERVATIONS.c.status == ReservationStatus.SETTLED.value,
                _RESERVATIONS.c.resolved_at >= since,
                _RESERVATIONS.c.resolved_at < until,
                _RESERVATIONS.c.agent_id != "",
            )
            .group_by(_RESERVATIONS.c.agent_id)
        )
        # PostgreSQL sums BIGINT as NUMERIC.
        return {agent_id: int(total) for agent_id, total in rows}

    @translate_unavailable
    async def balance(self, tenant_id: str, now: datetime) -> int:
        params: dict[str, Any] = {"b_tenant_id": tenant_id, "b_now": now}
        if self._allowances is None:
            return int(await self._session.scalar(_BALANCE, params) or 0)
        own = self._allowances.own(tenant_id)
        params["own_allowances"] = [allowance.key for allowance in own]
        total = int(await self._session.scalar(_BALANCE_WITH_ALLOWANCES, params) or 0)
        return total + self._allowances.free_of(own)


# Read at the end of every chat turn: built once, with bind parameters.
_USABLE_GRANTS = (
    _GRANTS.c.tenant_id == bindparam("b_tenant_id"),
    _GRANTS.c.starts_at <= bindparam("b_now"),
    _GRANTS.c.expires_at > bindparam("b_now"),
    _GRANTS.c.remaining > 0,
)
_BALANCE = select(func.coalesce(func.sum(_GRANTS.c.remaining), 0)).where(*_USABLE_GRANTS)
# PostgreSQL: credits still free in open allowances are usable too (`allowances.py`).
_BALANCE_WITH_ALLOWANCES = select(
    func.coalesce(func.sum(_GRANTS.c.remaining), 0)
    + text(OTHERS_FREE_SQL.format(tenant=":b_tenant_id"))
).where(*_USABLE_GRANTS)


def _active_conditions(tenant_id: str, now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        _GRANTS.c.tenant_id == tenant_id,
        _GRANTS.c.starts_at <= now,
        _GRANTS.c.expires_at > now,
    )


def _active(tenant_id: str, now: datetime) -> Select[Any]:
    """Grants valid at `now`, in consumption order (earliest expiry first)."""
    return (
        select(_GRANTS)
        .where(*_active_conditions(tenant_id, now))
        .order_by(_GRANTS.c.expires_at, _GRANTS.c.starts_at, _GRANTS.c.id)
    )
