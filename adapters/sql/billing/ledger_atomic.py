"""PostgreSQL one-statement reserve, settle and release, alone or in a caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from adapters.sql.billing.allowances import INSERT_FROM_ALLOWANCE, CreditAllowances
from adapters.sql.billing.ledger_records import reservation_to_domain
from adapters.sql.billing.ledger_sql import INSERT_RESERVATION, RESERVE_CTES, RESOLVE_CTES
from adapters.sql.errors import translate_unavailable
from application.billing.ledger_ports import AtomicLedgerOperations
from domain.billing.ledger import Reservation
from domain.errors import AlreadyExists

_UNIQUE_VIOLATION = "23505"

_RESERVE = text(RESERVE_CTES + "\n" + INSERT_RESERVATION + "RETURNING *\n")

_RESOLVE = text(RESOLVE_CTES + "\nSELECT * FROM r\n")

_RESERVE_FROM_ALLOWANCE = text(INSERT_FROM_ALLOWANCE + "RETURNING *\n")


class PostgresAtomicLedger(AtomicLedgerOperations):
    """Runs each statement in one of two places.

    - On an engine: a pool connection in autocommit — one round trip. With the process's
      `CreditAllowances`, a tenant with credits to spare is charged from an allowance: the
      turn writes only its own row. Otherwise the grant row locks end inside the server
      with the statement, not a client round trip later.
    - On a session: inside that unit of work, so a chat turn reserves, settles or releases in
      the transaction that also writes its messages (one commit instead of two). The grant
      rows then stay locked until that transaction ends, so the caller keeps it short.
      Nothing here can abort it on a duplicate except a reservation key already used, which
      a fresh key (a new message id) never is. No allowance is drawn from there: its
      bookkeeping cannot follow a rollback it does not see.
    """

    def __init__(
        self, bind: AsyncEngine | AsyncSession, allowances: CreditAllowances | None = None
    ) -> None:
        self._bind = bind
        self._allowances = allowances if isinstance(bind, AsyncEngine) else None

    async def _run(self, statement: TextClause, params: dict[str, Any]) -> Row[Any] | None:
        if isinstance(self._bind, AsyncSession):
            return (await self._bind.execute(statement, params)).first()
        async with self._bind.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            return (await connection.execute(statement, params)).first()

    @translate_unavailable
    async def reserve(
        self,
        tenant_id: str,
        amount: int,
        key: str,
        agent_id: str,
        now: datetime,
        hold_until: datetime,
    ) -> Reservation | None:
        params = {"tenant_id": tenant_id, "n": amount, "key": key, "agent_id": agent_id}
        params.update(now=now, hold_until=hold_until)
        allowances = self._allowances
        allowance = None
        if allowances is not None:
            allowance = await allowances.take(tenant_id, key, amount, now)
        if allowances is None or allowance is None:
            row = await self._insert(_RESERVE, params)
        else:
            write = self._insert(_RESERVE_FROM_ALLOWANCE, params, allowance)
            row = await allowances.spend(allowance, key, amount, write)
        return reservation_to_domain(row) if row is not None else None

    async def _insert(
        self, statement: TextClause, params: dict[str, Any], allowance: str | None = None
    ) -> Row[Any] | None:
        try:
            return await self._run(statement, {**params, "allowance_key": allowance})
        except IntegrityError as error:
            if getattr(error.orig, "pgcode", None) == _UNIQUE_VIOLATION:
                raise AlreadyExists("reservation key already used") from error
            raise

    async def settle(self, key: str, actual_amount: int, now: datetime) -> Reservation | None:
        return await self._resolve(key, "SETTLED", actual_amount, now)

    async def release(self, key: str, now: datetime) -> Reservation | None:
        return await self._resolve(key, "RELEASED", 0, now)

    @translate_unavailable
    async def _resolve(
        self, key: str, status: str, spend: int, now: datetime
    ) -> Reservation | None:
        params: dict[str, Any] = {"key": key, "status": status, "spend": spend, "now": now}
        row = await self._run(_RESOLVE, params)
        if row is None:
            return None
        if row.allowance_key is not None and self._allowances is not None:
            unspent = row.amount - row.settled_amount
            await self._allowances.returned(row.allowance_key, key, unspent, now)
        return reservation_to_domain(row)

    @translate_unavailable
    async def close_lapsed_allowances(self, now: datetime, limit: int) -> int:
        if self._allowances is None:
            return 0
        return await self._allowances.close_lapsed(now, limit)
