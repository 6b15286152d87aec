"""The ledger's PostgreSQL statement fragments, shared by the one-statement reserve, settle
and release (`ledger_atomic.py`), the chat turn's statements and the credit allowances."""

from __future__ import annotations

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


def insert_reservation(kind: str = "charge") -> str:
    """The insert after `RESERVE_CTES`: a charge, or an allowance (`allowances.py`).
    Reading `taken` makes the grant updates (and their locks) come first."""
    if kind not in ("charge", "allowance"):  # pragma: no cover - constants of this package
        raise ValueError(kind)
    return f"""
INSERT INTO credit_reservations
  (key, tenant_id, agent_id, amount, status, settled_amount, allocations, reason,
   created_at, resolved_at, expires_at, kind)
SELECT :key, :tenant_id, :agent_id, :n, 'RESERVED', 0,
  (SELECT jsonb_agg(jsonb_build_array(id, take) ORDER BY expires_at, starts_at, id)
   FROM alloc),
  '', :now, NULL, :hold_until, '{kind}'
WHERE EXISTS (SELECT 1 FROM enough) AND (SELECT count(*) FROM taken) >= 0
"""  # noqa: S608 - built from the two constants above only


INSERT_RESERVATION = insert_reservation()


def give_back_ctes() -> str:
    """After a CTE `r` that resolved reservations (RETURNING *): return each one's unspent
    part (`amount - settled_amount`) to its grants, latest expiry first, as
    `domain.billing.ledger.split_returns` does.

    The grant rows are locked first in consumption order, the order `_RESERVE` locks them in:
    an UPDATE … FROM locks in whatever order its join plan yields, so a give-back and a
    reserve crossing two grants could deadlock. The new `remaining` comes from the locked
    (current) value for the same reason as in `_RESERVE` (`remaining <= amount` this time).
    A charge spent from an allowance has no allocations: nothing is given back here."""
    return """
back AS (
  SELECT (a->>0) AS id, (a->>1)::bigint AS amount, ord, r.amount AS total,
    r.settled_amount AS spent
  FROM r, jsonb_array_elements(r.allocations) WITH ORDINALITY AS x(a, ord)),
ret AS (
  SELECT id, least(amount, greatest(0, total - spent - coalesce(sum(amount)
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


# Resolve the reservation first (its row lock decides a settle/release race), then give the
# unspent part back. Shared with the chat turn statement, which writes the reply after it.
# Never an allowance: those close only through `allowances.py`.
_RESOLVE_HEAD = """
WITH r AS (
  UPDATE credit_reservations
  SET status = :status, settled_amount = :spend, resolved_at = :now
  WHERE key = :key AND status = 'RESERVED' AND kind = 'charge' AND amount >= :spend
  RETURNING *),"""
RESOLVE_CTES = _RESOLVE_HEAD + give_back_ctes()
