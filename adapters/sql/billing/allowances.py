"""Credit allowances on PostgreSQL: one tenant's turns spend without locking its grant rows.

A replica draws a block of a tenant's credits (an *allowance*: a reservation row of kind
`allowance`, taken from the grants earliest expiry first by the ordinary reserve statement)
and then spends it turn by turn: each turn inserts, settles or releases only its own row,
which names the allowance. What is still free in an allowance is counted in this process's
memory, never above what the rows leave free, so nothing is overspent and no row is shared
by the turns. The allowance is closed — settled at what its turns spent, the rest given back
to the grants — by its replica once it is retired and idle, or by any replica's sweep once
its deadline has passed and no turn of it is still held. The design and its invariants:
`docs/ledger.md`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import uuid4

from sqlalchemy import TextClause, text
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.billing.ledger_sql import RESERVE_CTES, give_back_ctes, insert_reservation

logger = logging.getLogger("astra.billing.allowances")

_T = TypeVar("_T")

# New turns draw from an allowance for this long (or until its earliest credits expire) ...
ALLOWANCE_LIFETIME = timedelta(seconds=10)
# ... and nobody but its replica closes it before this much longer: a replica whose clock is
# behind the sweeper's by less than this can never add a turn to an allowance being closed.
ALLOWANCE_GRACE = timedelta(seconds=20)
# A draw covers at most this many turns of the size asked for, takes at most 1/BALANCE_SHARE
# of the usable balance (the rest stays for other replicas and other kinds of charges), and
# is not worth making for fewer than MIN_TURNS_PER_DRAW turns: such tenants reserve straight
# from their grants, exactly as before allowances existed.
TURNS_PER_DRAW = 1000
BALANCE_SHARE = 8
MIN_TURNS_PER_DRAW = 16
# After a balance too small to draw from, the tenant's turns go straight to the grants for
# this long before a draw is considered again (one balance read per tenant and period).
SMALL_BALANCE_MEMORY = timedelta(seconds=5)
ALLOWANCE_KEY_PREFIX = "allowance:"

# The ordinary reserve (earliest expiry first, all or nothing), as an allowance; it may be
# used no longer than its earliest credits are valid.
_DRAW = text(  # constant SQL only
    RESERVE_CTES  # noqa: S608
    + "\n"
    + insert_reservation("allowance")
    + "RETURNING key, amount, (SELECT min(expires_at) FROM alloc) AS credits_expire_at\n"
)

_USABLE = text(
    "SELECT coalesce(sum(remaining), 0) FROM credit_grants WHERE tenant_id = :tenant_id "
    "AND starts_at <= :now AND expires_at > :now AND remaining > 0"
)

# A turn's own row, naming the allowance it spends from; no grant row is touched.
INSERT_FROM_ALLOWANCE = """
INSERT INTO credit_reservations
  (key, tenant_id, agent_id, amount, status, settled_amount, allocations, reason,
   created_at, resolved_at, expires_at, kind, allowance_key)
VALUES (:key, :tenant_id, :agent_id, :n, 'RESERVED', 0, CAST('[]' AS jsonb), '', :now, NULL,
  :hold_until, 'charge', :allowance_key)
"""

# Settle the allowance at what its turns spent and give the rest back to its grants, latest
# expiry first — only while none of its turns is still held (one snapshot decides both, so
# a turn settled after it still counts: it was seen RESERVED and the close waits a round).
_CLOSE_ALLOWANCE = """
WITH turns AS (
  SELECT count(*) FILTER (WHERE status = 'RESERVED') AS held,
    coalesce(sum(settled_amount) FILTER (WHERE status = 'SETTLED'), 0) AS spent
  FROM credit_reservations WHERE allowance_key = :key),
r AS (
  UPDATE credit_reservations
  SET status = 'SETTLED', settled_amount = (SELECT spent FROM turns), resolved_at = :now
  WHERE key = :key AND kind = 'allowance' AND status = 'RESERVED'
    AND (SELECT held FROM turns) = 0 AND amount >= (SELECT spent FROM turns)
  RETURNING *),"""
_CLOSE = text(_CLOSE_ALLOWANCE + give_back_ctes() + "\nSELECT key, amount, settled_amount FROM r\n")

_STATUS = text("SELECT status FROM credit_reservations WHERE key = :key")

_LAPSED = text(
    "SELECT key FROM credit_reservations WHERE status = 'RESERVED' AND expires_at < :now "
    "AND kind = 'allowance' ORDER BY expires_at LIMIT :limit"
)

# Added to a tenant's balance: what other replicas' open allowances still have free (drawn,
# less what their charges hold or spent). This replica's own are left out of the sum and
# counted from memory instead (`CreditAllowances.own_free`): the sum then reads only the few
# allowance rows, not this replica's many charges.
OTHERS_FREE_SQL = """(SELECT coalesce(sum(a.amount - coalesce((
    SELECT sum(CASE WHEN c.status = 'RESERVED' THEN c.amount ELSE c.settled_amount END)
    FROM credit_reservations c WHERE c.allowance_key = a.key), 0)), 0)
  FROM credit_reservations a WHERE a.tenant_id = {tenant} AND a.kind = 'allowance'
    AND a.status = 'RESERVED' AND a.key <> ALL(CAST(:own_allowances AS text[])))"""


@dataclass(slots=True)
class _Allowance:
    key: str
    tenant_id: str
    amount: int
    free: int
    usable_until: datetime
    # The charges taken from it whose row is being written or is held (by key: ending one
    # twice, e.g. by its turn and by recovery, cannot make it look idle too soon).
    in_flight: set[str] = field(default_factory=set)
    retired: bool = False
    # A charge's write failed without saying whether its row exists: only the sweep, after
    # the deadline, closes it then (by when any such write has long finished).
    tainted: bool = False

    @property
    def closable(self) -> bool:
        return self.retired and not self.in_flight and not self.tainted


class CreditAllowances:
    """This process's allowances, by tenant; one per engine (the unit-of-work factory's).

    All bookkeeping is synchronous between awaits (one event loop), so a take can never
    hand out credits twice. `free` only rises after a charge's end is committed and only
    falls before its row is written: it never exceeds what the rows leave free. Its replica
    closes an allowance only when no charge of it is in flight, so the close (one snapshot)
    sees every charge row of it.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._active: dict[str, _Allowance] = {}  # the one new turns draw from, per tenant
        self._held: dict[str, _Allowance] = {}  # every allowance not yet closed, by key
        self._small_until: dict[str, datetime] = {}
        self._drawing: dict[str, asyncio.Lock] = {}

    async def _run(self, statement: TextClause, params: dict[str, Any]) -> Row[Any] | None:
        async with self._engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            return (await connection.execute(statement, params)).first()

    async def take(self, tenant_id: str, charge_key: str, amount: int, now: datetime) -> str | None:
        """The key of an allowance now holding `amount` more for the charge `charge_key`,
        or None: reserve straight from the grants (small balance, or none to draw)."""
        allowance = await self._usable(tenant_id, amount, now)
        if allowance is None:
            if self._too_small(tenant_id, now):
                return None
            lock = self._drawing.setdefault(tenant_id, asyncio.Lock())
            async with lock:  # one draw per tenant at a time; the others then share it
                allowance = await self._usable(tenant_id, amount, now)
                if allowance is None and not self._too_small(tenant_id, now):
                    allowance = await self._draw(tenant_id, amount, now)
            if allowance is None:
                return None
        allowance.free -= amount
        allowance.in_flight.add(charge_key)
        return allowance.key

    def _too_small(self, tenant_id: str, now: datetime) -> bool:
        small_until = self._small_until.get(tenant_id)
        return small_until is not None and now < small_until

    async def _usable(self, tenant_id: str, amount: int, now: datetime) -> _Allowance | None:
        """The tenant's active allowance if it covers `amount` at `now`; else it is retired
        (and closed at once when nothing of it is in flight)."""
        allowance = self._active.get(tenant_id)
        if allowance is None:
            return None
        if now < allowance.usable_until and allowance.free >= amount:
            return allowance
        self._retire(allowance)
        if allowance.closable:
            await self._close(allowance, now)
        return None

    def _retire(self, allowance: _Allowance) -> None:
        allowance.retired = True
        if self._active.get(allowance.tenant_id) is allowance:
            del self._active[allowance.tenant_id]

    async def _draw(self, tenant_id: str, amount: int, now: datetime) -> _Allowance | None:
        usable = await self._run(_USABLE, {"tenant_id": tenant_id, "now": now})
        balance = int(usable[0]) if usable is not None else 0
        size = min(balance // BALANCE_SHARE, amount * TURNS_PER_DRAW)
        if size < amount * MIN_TURNS_PER_DRAW:
            self._small_until[tenant_id] = now + SMALL_BALANCE_MEMORY
            return None
        self._small_until.pop(tenant_id, None)
        params = {
            "tenant_id": tenant_id,
            "n": size,
            "key": ALLOWANCE_KEY_PREFIX + uuid4().hex,
            "agent_id": "",
            "now": now,
            "hold_until": now + ALLOWANCE_LIFETIME + ALLOWANCE_GRACE,
        }
        row = await self._run(_DRAW, params)
        if row is None:  # the balance moved between the read and the draw
            return None
        allowance = _Allowance(
            key=row.key,
            tenant_id=tenant_id,
            amount=int(row.amount),
            free=int(row.amount),
            usable_until=min(now + ALLOWANCE_LIFETIME, row.credits_expire_at),
        )
        self._active[tenant_id] = allowance
        self._held[allowance.key] = allowance
        return allowance

    async def spend(self, key: str, charge_key: str, amount: int, write: Awaitable[_T]) -> _T:
        """Await `write`, the statement storing charge `charge_key` taken from allowance
        `key`, and undo the take if it certainly wrote nothing (a constraint refused it).
        If it may have (the connection failed, the call was cancelled), the credits stay
        taken here and the allowance is left to the sweep: recovery ends such a charge."""
        allowance = self._held.get(key)
        try:
            return await write
        except IntegrityError:
            if allowance is not None:
                allowance.free += amount
                allowance.in_flight.discard(charge_key)
            raise
        except BaseException:
            if allowance is not None:
                allowance.tainted = True
                allowance.in_flight.discard(charge_key)
            raise

    async def returned(self, key: str, charge_key: str, unspent: int, now: datetime) -> None:
        """Charge `charge_key`'s end was committed: `unspent` credits are free again. Closes
        the allowance when it is retired and this was its last charge in flight."""
        allowance = self._held.get(key)
        if allowance is None:
            return  # another replica's, or already closed
        allowance.free += unspent
        allowance.in_flight.discard(charge_key)
        if allowance.closable:
            await self._close(allowance, now)

    def own(self, tenant_id: str) -> list[_Allowance]:
        """This process's allowances of the tenant not yet closed (for a balance read: pass
        their keys to `OTHERS_FREE_SQL`, then add `free_of` them)."""
        return [a for a in self._held.values() if a.tenant_id == tenant_id]

    @staticmethod
    def free_of(allowances: list[_Allowance]) -> int:
        return sum(allowance.free for allowance in allowances)

    async def _close(self, allowance: _Allowance, now: datetime) -> None:
        try:
            closed = await self.close(allowance.key, now)
        except Exception:
            # Left open: the sweep closes it after its deadline.
            logger.warning("could not close credit allowance %s", allowance.key, exc_info=True)
            return
        if closed:
            self._held.pop(allowance.key, None)

    async def close(self, key: str, now: datetime) -> bool:
        """Close one allowance if none of its charges is held; True when it is closed (by
        this call or before)."""
        if await self._run(_CLOSE, {"key": key, "now": now}) is not None:
            return True
        state = await self._run(_STATUS, {"key": key})
        return state is None or state.status != "RESERVED"

    async def close_lapsed(self, now: datetime, limit: int) -> int:
        """The sweep: close allowances past their deadline (whatever replica drew them) whose
        charges have all ended; returns how many it closed."""
        async with self._engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            lapsed = await connection.execute(_LAPSED, {"now": now, "limit": limit})
            keys = [row.key for row in lapsed]
        closed = 0
        for key in keys:
            if await self._run(_CLOSE, {"key": key, "now": now}) is not None:
                closed += 1
                self._held.pop(key, None)
        return closed

    async def close_idle(self, now: datetime) -> None:
        """At shutdown: give back every allowance of this process that nothing needs."""
        for allowance in list(self._held.values()):
            self._retire(allowance)
            if allowance.closable:
                await self._close(allowance, now)
