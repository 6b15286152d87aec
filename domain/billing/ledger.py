"""The credit ledger: grants, reservations against them, and earliest-expiry-first allocation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from domain.errors import FailedPrecondition, InvalidArgument

INSUFFICIENT_CREDITS = "insufficient credits"
# Grants that never expire (e.g. an operator adjustment without `expires_at`) end here.
NEVER_EXPIRES = datetime(9999, 12, 31, tzinfo=UTC)
# How long credits stay held when the caller names no deadline: past it, a RESERVED
# reservation is finished by recovery (`application/chat/recovery.py`), never held forever.
DEFAULT_HOLD = timedelta(minutes=10)
# Amounts travel as int64 on the wire (contract §1.3); keep every sum representable.
MAX_CREDITS = 2**62


class GrantSource(StrEnum):
    TRIAL = "TRIAL"
    PERIOD = "PERIOD"
    ADDON = "ADDON"
    ADJUSTMENT = "ADJUSTMENT"


class ReservationStatus(StrEnum):
    RESERVED = "RESERVED"
    SETTLED = "SETTLED"
    RELEASED = "RELEASED"


def check_amount(field_name: str, amount: int, *, allow_zero: bool = False) -> None:
    """Refuse amounts that are not positive (or non-negative) ints within int64 range."""
    low = 0 if allow_zero else 1
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidArgument(field_name, "must be an integer")
    if not low <= amount <= MAX_CREDITS:
        raise InvalidArgument(field_name, f"must be between {low} and {MAX_CREDITS}")


@dataclass(frozen=True, slots=True)
class GrantSpec:
    """A grant to create, before it has an id; `grant_key` makes creating it idempotent."""

    source: GrantSource
    amount: int
    starts_at: datetime
    expires_at: datetime
    grant_key: str

    def __post_init__(self) -> None:
        check_amount("amount", self.amount)
        if self.expires_at <= self.starts_at:
            raise InvalidArgument("expires_at", "must be after the grant starts")
        if not self.grant_key:
            raise InvalidArgument("grant_key", "must not be empty")


@dataclass(slots=True)
class CreditGrant:
    """Credits given to a tenant once (trial, a period, an add-on, an adjustment).

    `remaining` only moves through reservations, and always stays within 0..amount.
    Unique per tenant on `grant_key`.
    """

    id: str
    tenant_id: str
    source: GrantSource
    amount: int
    remaining: int
    starts_at: datetime
    expires_at: datetime
    grant_key: str
    created_at: datetime

    def __post_init__(self) -> None:
        if not 0 <= self.remaining <= self.amount:
            raise InvalidArgument("remaining", "must stay between 0 and the granted amount")

    @classmethod
    def create(cls, grant_id: str, tenant_id: str, spec: GrantSpec, now: datetime) -> CreditGrant:
        return cls(
            id=grant_id,
            tenant_id=tenant_id,
            source=spec.source,
            amount=spec.amount,
            remaining=spec.amount,
            starts_at=spec.starts_at,
            expires_at=spec.expires_at,
            grant_key=spec.grant_key,
            created_at=now,
        )

    def is_active(self, now: datetime) -> bool:
        """Inside its validity window, whether or not anything is left."""
        return self.starts_at <= now < self.expires_at

    def is_usable(self, now: datetime) -> bool:
        return self.is_active(now) and self.remaining > 0


def consumption_order(grant: CreditGrant) -> tuple[datetime, datetime, str]:
    """Earliest expiry first; ties broken by start then id so every adapter agrees."""
    return (grant.expires_at, grant.starts_at, grant.id)


@dataclass(frozen=True, slots=True)
class Allocation:
    """The part of a reservation taken from one grant."""

    grant_id: str
    amount: int


def allocate(grants: Iterable[CreditGrant], amount: int, now: datetime) -> list[Allocation]:
    """Take `amount` from the usable grants, earliest expiry first, all or nothing.

    Raises `FailedPrecondition("insufficient credits")` when the usable grants hold less.
    """
    check_amount("amount", amount)
    allocations: list[Allocation] = []
    needed = amount
    for grant in sorted((g for g in grants if g.is_usable(now)), key=consumption_order):
        if needed == 0:
            break
        take = min(needed, grant.remaining)
        allocations.append(Allocation(grant.id, take))
        needed -= take
    if needed > 0:
        raise FailedPrecondition(INSUFFICIENT_CREDITS)
    return allocations


def usable_balance(grants: Iterable[CreditGrant], now: datetime) -> int:
    return sum(g.remaining for g in grants if g.is_usable(now))


def split_returns(allocations: list[Allocation], keep: int) -> list[Allocation]:
    """What goes back when only `keep` of the allocations is spent.

    The spent part is the earliest-expiring one (the order it was taken in), so the
    latest-expiring credits are the ones returned.
    """
    returns: list[Allocation] = []
    to_return = sum(a.amount for a in allocations) - keep
    for allocation in reversed(allocations):
        if to_return == 0:
            break
        back = min(to_return, allocation.amount)
        returns.append(Allocation(allocation.grant_id, back))
        to_return -= back
    return returns


@dataclass(slots=True)
class Reservation:
    """Credits held for one charge (a chat turn, an operator debit), keyed for idempotency.

    RESERVED → SETTLED (spent `settled_amount`, the rest returned) or RELEASED (all
    returned). `agent_id` is empty for operator debits, which count in no agent's usage.
    `expires_at` is the hold's deadline: a reservation still RESERVED after it is no longer
    wanted by a live charge, and recovery finishes it.
    """

    key: str
    tenant_id: str
    agent_id: str
    amount: int
    allocations: list[Allocation]
    created_at: datetime
    expires_at: datetime
    status: ReservationStatus = ReservationStatus.RESERVED
    settled_amount: int = 0
    resolved_at: datetime | None = None
    reason: str = ""

    def settle(self, actual_amount: int, now: datetime) -> list[Allocation]:
        """Spend `actual_amount` (at most the reserved amount); returns what goes back."""
        check_amount("actual_amount", actual_amount, allow_zero=True)
        if self.status is not ReservationStatus.RESERVED:
            raise FailedPrecondition(f"reservation is already {self.status.lower()}")
        if actual_amount > self.amount:
            raise InvalidArgument("actual_amount", "must not exceed the reserved amount")
        self.status = ReservationStatus.SETTLED
        self.settled_amount = actual_amount
        self.resolved_at = now
        return split_returns(self.allocations, actual_amount)

    def release(self, now: datetime) -> list[Allocation]:
        """Give everything back; returns the allocations to restore."""
        if self.status is not ReservationStatus.RESERVED:
            raise FailedPrecondition(f"reservation is already {self.status.lower()}")
        self.status = ReservationStatus.RELEASED
        self.resolved_at = now
        return list(self.allocations)

    @property
    def outstanding(self) -> int:
        """Credits still held, neither spent nor returned."""
        return self.amount if self.status is ReservationStatus.RESERVED else 0
