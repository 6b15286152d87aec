"""What a fault test checks on the tables after recovery: nothing held, nothing pending, and
every credit accounted for by the chat charging rule.

The credit totals are `adapters/sql/billing/books.py`'s (credit allowances included)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.sql.billing.books import read_books
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


_CHAT_COUNTS = text(
    """
SELECT
  (SELECT count(*) FROM credit_reservations
   WHERE tenant_id = :t AND status = 'RESERVED' AND kind = 'charge') AS reserved_holds,
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
        books = await read_books(engine, tenant_id)
        async with engine.connect() as connection:
            counts = (await connection.execute(_CHAT_COUNTS, {"t": tenant_id})).one()
    finally:
        await engine.dispose()
    return LedgerAudit(
        books.granted, books.available, books.held, books.spent, *(int(n) for n in counts)
    )
