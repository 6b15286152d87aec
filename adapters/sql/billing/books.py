"""A tenant's credit books read straight from the tables (an audit for tests, benchmarks and
operators): the identity granted = available + held + spent, and no credit allowance spent
beyond what it drew.

Held: what charges hold plus what open allowances still have free. Spent: what charges spent,
from an allowance or not (a closed allowance's own total repeats its charges')."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_BOOKS = text(
    """
SELECT
  (SELECT coalesce(sum(amount), 0) FROM credit_grants WHERE tenant_id = :t) AS granted,
  (SELECT coalesce(sum(remaining), 0) FROM credit_grants WHERE tenant_id = :t) AS available,
  (SELECT coalesce(sum(amount), 0) FROM credit_reservations
   WHERE tenant_id = :t AND status = 'RESERVED' AND kind = 'charge')
  + (SELECT coalesce(sum(a.amount - coalesce((
       SELECT sum(CASE WHEN c.status = 'RESERVED' THEN c.amount ELSE c.settled_amount END)
       FROM credit_reservations c WHERE c.allowance_key = a.key), 0)), 0)
     FROM credit_reservations a
     WHERE a.tenant_id = :t AND a.kind = 'allowance' AND a.status = 'RESERVED') AS held,
  (SELECT coalesce(sum(settled_amount), 0) FROM credit_reservations
   WHERE tenant_id = :t AND status = 'SETTLED' AND kind = 'charge') AS spent,
  (SELECT count(*) FROM credit_reservations WHERE tenant_id = :t AND kind = 'allowance')
    AS allowances,
  (SELECT count(*) FROM credit_reservations a
   WHERE a.tenant_id = :t AND a.kind = 'allowance' AND a.amount < (
     SELECT coalesce(sum(CASE WHEN c.status = 'RESERVED' THEN c.amount
                              ELSE c.settled_amount END), 0)
     FROM credit_reservations c WHERE c.allowance_key = a.key)) AS overspent,
  (SELECT count(*) FROM credit_reservations
   WHERE tenant_id = :t AND allowance_key IS NOT NULL) AS charges_from_allowances
"""
)


@dataclass(frozen=True, slots=True)
class Books:
    granted: int
    available: int
    held: int
    spent: int
    allowances: int  # allowance rows, open or closed
    overspent: int  # allowances whose charges hold or spent more than they drew
    charges_from_allowances: int

    @property
    def balanced(self) -> bool:
        return self.granted == self.available + self.held + self.spent


async def read_books(engine: AsyncEngine, tenant_id: str) -> Books:
    async with engine.connect() as connection:
        row = (await connection.execute(_BOOKS, {"t": tenant_id})).one()
    return Books(*(int(value) for value in row))
