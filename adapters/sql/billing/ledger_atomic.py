"""PostgreSQL one-statement reserve, settle and release, alone or in a caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from adapters.sql.billing.ledger_records import reservation_to_domain
from adapters.sql.errors import translate_unavailable
from application.billing.ledger_ports import AtomicLedgerOperations
from domain.billing.ledger import Reservation
from domain.errors import AlreadyExists

_UNIQUE_VIOLATION = "23505"

# Lock the usable grants in consumption order (as the generic path does), allocate `:n`
# earliest expiry first from the values read under the lock, take only if they cover `:n`,
# and insert the reservation with its allocations in the same order.
# The new `remaining` is computed from the locked value, not from `g.remaining`: after a
# lock wait the UPDATE first builds its row from the statement's older snapshot and checks
# the CHECK constraint on it before it re-reads the row, so `g.remaining - take` could fail
# `remaining >= 0` spuriously under contention. The locked value is the current one.
# The CTEs and the insert are shared with the chat turn statement
# (`adapters/sql/chat/turn_statements.py`), which adds its own writes after them.
RESERVE_CTES = """
WITH usable AS (
  SELECT id, remaining, expires_at, starts_at FROM credit_grants
  WHERE tenant_id = :tenant_id AND starts_at <= :now AND expires_at > :now AND remaining > 0
  ORDER BY expires_at, starts_at, id
  FOR UPDATE),
ranked AS (
  SELECT id, remaining, expires_at, starts_at,
    coalesce(sum(remaining) OVER (ORDER BY expires_at, starts_at, id
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
  FROM usable),
alloc AS (
  SELECT id, remaining, least(remaining, :n - before) AS take, expires_at, starts_at
  FROM ranked WHERE before < :n),
enough AS (SELECT 1 FROM alloc HAVING sum(take) = :n),
taken AS (
  UPDATE credit_grants g SET remaining = a.remaining - a.take FROM alloc a
  WHERE g.id = a.id AND EXISTS (SELECT 1 FROM enough)
  RETURNING g.id)"""

# Reading `taken` makes the grant updates (and their locks) come first.
INSERT_RESERVATION = """
INSERT INTO credit_reservations
  (key, tenant_id, agent_id, amount, status, settled_amount, allocations, reason,
   created_at, resolved_at, expires_at)
SELECT :key, :tenant_id, :agent_id, :n, 'RESERVED', 0,
  (SELECT jsonb_agg(jsonb_build_array(id, take) ORDER BY expires_at, starts_at, id)
   FROM alloc),
  '', :now, NULL, :hold_until
WHERE EXISTS (SELECT 1 FROM enough) AND (SELECT count(*) FROM taken) >= 0
"""

_RESERVE = text(RESERVE_CTES + "\n" + INSERT_RESERVATION + "RETURNING *\n")

# Resolve the reservation first (its row lock decides a settle/release race), then return
# the unspent part latest expiry first, as `domain.billing.ledger.split_returns` does.
# The grant rows are locked first in consumption order, the order `_RESERVE` locks them in:
# an UPDATE … FROM locks in whatever order its join plan yields, so a give-back and a
# reserve crossing two grants could deadlock. The new `remaining` comes from the locked
# (current) value for the same reason as in `_RESERVE` (`remaining <= amount` this time).
# Shared with the chat turn statement, which writes the reply after the give-back.
RESOLVE_CTES = """
WITH r AS (
  UPDATE credit_reservations
  SET status = :status, settled_amount = :spend, resolved_at = :now
  WHERE key = :key AND status = 'RESERVED' AND amount >= :spend
  RETURNING *),
back AS (
  SELECT (a->>0) AS id, (a->>1)::bigint AS amount, ord, r.amount AS total
  FROM r, jsonb_array_elements(r.allocations) WITH ORDINALITY AS x(a, ord)),
ret AS (
  SELECT id, least(amount, greatest(0, total - :spend - coalesce(sum(amount)
    OVER (ORDER BY ord DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0))) AS give
  FROM back),
locked AS (
  SELECT g.id, g.remaining FROM credit_grants g
  WHERE g.id IN (SELECT id FROM ret WHERE give > 0)
  ORDER BY g.expires_at, g.starts_at, g.id
  FOR UPDATE),
given AS (
  UPDATE credit_grants g SET remaining = l.remaining + ret.give
  FROM ret JOIN locked l ON l.id = ret.id
  WHERE g.id = ret.id AND ret.give > 0
  RETURNING g.id, g.remaining)"""

_RESOLVE = text(RESOLVE_CTES + "\nSELECT * FROM r\n")


class PostgresAtomicLedger(AtomicLedgerOperations):
    """Runs each statement in one of two places.

    - On an engine: a pool connection in autocommit — one round trip, and the grant row lock
      ends inside the server with the statement, not a client round trip later.
    - On a session: inside that unit of work, so a chat turn reserves, settles or releases in
      the transaction that also writes its messages (one commit instead of two). The grant
      rows then stay locked until that transaction ends, so the caller keeps it short.
      Nothing here can abort it on a duplicate except a reservation key already used, which
      a fresh key (a new message id) never is.
    """

    def __init__(self, bind: AsyncEngine | AsyncSession) -> None:
        self._bind = bind

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
        try:
            row = await self._run(_RESERVE, {**params, "now": now, "hold_until": hold_until})
        except IntegrityError as error:
            if getattr(error.orig, "pgcode", None) == _UNIQUE_VIOLATION:
                raise AlreadyExists("reservation key already used") from error
            raise
        return reservation_to_domain(row) if row is not None else None

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
        return reservation_to_domain(row) if row is not None else None
