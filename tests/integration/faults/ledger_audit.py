"""What a fault test checks on the tables after recovery: nothing held, nothing pending, and
every credit accounted for by the chat charging rule."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.sql.engine import create_engine


@dataclass(frozen=True, slots=True)
class LedgerAudit:
    granted: int
    available: int
    held: int
    spent: int
    reserved_holds: int  # RESERVED reservations
    pending_replies: int  # chat replies still `pending`
    # Chat charges that break the rule: a settled hold whose reply shows no output or
    # another amount, or a released hold whose reply says it was charged.
    misbilled: int

    @property
    def balanced(self) -> bool:
        return self.granted == self.available + self.held + self.spent


_TOTALS = text(
    """
SELECT
  (SELECT coalesce(sum(amount), 0) FROM credit_grants WHERE tenant_id = :t) AS granted,
  (SELECT coalesce(sum(remaining), 0) FROM credit_grants WHERE tenant_id = :t) AS available,
  (SELECT coalesce(sum(amount), 0) FROM credit_reservations
   WHERE tenant_id = :t AND status = 'RESERVED') AS held,
  (SELECT coalesce(sum(settled_amount), 0) FROM credit_reservations
   WHERE tenant_id = :t AND status = 'SETTLED') AS spent,
  (SELECT count(*) FROM credit_reservations
   WHERE tenant_id = :t AND status = 'RESERVED') AS reserved_holds,
  (SELECT count(*) FROM chat_messages WHERE tenant_id = :t AND status = 'pending')
    AS pending_replies,
  (SELECT count(*) FROM credit_reservations r JOIN chat_messages m ON m.id = r.key
   WHERE r.tenant_id = :t AND (
     (r.status = 'SETTLED' AND (m.content = '' OR m.credits <> r.settled_amount
                                OR m.status NOT IN ('completed', 'aborted')))
     OR (r.status = 'RELEASED' AND m.credits <> 0))) AS misbilled
"""
)


async def audit_ledger(database_url: str, tenant_id: str) -> LedgerAudit:
    """The tenant's credits and chat replies as the tables have them (SQLite or PostgreSQL)."""
    engine = (
        create_engine(database_url)
        if database_url.startswith("sqlite")
        else create_async_engine(database_url, pool_size=1)
    )
    try:
        async with engine.connect() as connection:
            row = (await connection.execute(_TOTALS, {"t": tenant_id})).one()
    finally:
        await engine.dispose()
    return LedgerAudit(*(int(value) for value in row))
