"""ORM records of credit grants, reservations and their allocations, with domain mappers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Row,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from adapters.sql.base import Base
from domain.billing.ledger import (
    Allocation,
    CreditGrant,
    GrantSource,
    Reservation,
    ReservationStatus,
)

_SOURCES = ", ".join(f"'{source.value}'" for source in GrantSource)
_STATUSES = ", ".join(f"'{status.value}'" for status in ReservationStatus)


class CreditGrantRecord(Base):
    __tablename__ = "credit_grants"
    __table_args__ = (
        # The balance can never go negative nor exceed what was granted, whatever the code does.
        CheckConstraint("remaining >= 0", name="remaining_not_negative"),
        CheckConstraint("remaining <= amount", name="remaining_within_amount"),
        CheckConstraint(f"source IN ({_SOURCES})", name="source"),
        # Lazy grants (trial, each period) are created exactly once per key.
        UniqueConstraint("tenant_id", "grant_key", name="uq_credit_grants_tenant_id_grant_key"),
        # Usable grants of one tenant in consumption order.
        Index("ix_credit_grants_tenant_id_expires_at", "tenant_id", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    starts_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # Free-form (`period:<plan>:<start>`, `adjust:<operator key>`): Text, so no key is too long.
    grant_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class CreditReservationRecord(Base):
    __tablename__ = "credit_reservations"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "settled_amount >= 0 AND settled_amount <= amount", name="settled_within_amount"
        ),
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
        # Per-agent usage sums what one tenant settled within a period.
        Index("ix_credit_reservations_tenant_id_resolved_at", "tenant_id", "resolved_at"),
        # Recovery looks for holds past their deadline; only RESERVED rows are ever looked at.
        Index(
            "ix_credit_reservations_reserved_expires_at",
            "expires_at",
            postgresql_where=text("status = 'RESERVED'"),
            sqlite_where=text("status = 'RESERVED'"),
        ),
        # Closing an allowance sums the turns spent from it.
        Index(
            "ix_credit_reservations_allowance_key",
            "allowance_key",
            postgresql_where=text("allowance_key IS NOT NULL"),
            sqlite_where=text("allowance_key IS NOT NULL"),
        ),
    )

    # The idempotency key (a message id): global, so settle and release need no tenant.
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id", ondelete="CASCADE"))
    # "" for operator debits; no foreign key, usage outlives a deleted agent.
    agent_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    settled_amount: Mapped[int] = mapped_column(BigInteger)
    # [[grant_id, amount], …] in the order taken. Fixed at insert, read back whole: a column
    # rather than a child table keeps a reservation one row (one INSERT, one SELECT).
    allocations: Mapped[list[list[Any]]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    # The hold's deadline: still RESERVED after it, recovery settles or releases it (an
    # allowance's: the sweep closes it).
    expires_at: Mapped[datetime]
    # "charge", or "allowance": a replica's block of credits (docs/ledger.md).
    kind: Mapped[str] = mapped_column(String(16), server_default="charge")
    # A charge spent from an allowance names it; its own allocations are then empty.
    allowance_key: Mapped[str | None] = mapped_column(Text)


def grant_to_row(grant: CreditGrant) -> dict[str, object]:
    return {
        "id": grant.id,
        "tenant_id": grant.tenant_id,
        "source": grant.source.value,
        "amount": grant.amount,
        "remaining": grant.remaining,
        "starts_at": grant.starts_at,
        "expires_at": grant.expires_at,
        "grant_key": grant.grant_key,
        "created_at": grant.created_at,
    }


def grant_to_domain(record: Row[Any]) -> CreditGrant:
    """Map a row selected from the `credit_grants` table (Core, not the identity map)."""
    return CreditGrant(
        id=record.id,
        tenant_id=record.tenant_id,
        source=GrantSource(record.source),
        amount=record.amount,
        remaining=record.remaining,
        starts_at=record.starts_at,
        expires_at=record.expires_at,
        grant_key=record.grant_key,
        created_at=record.created_at,
    )


def reservation_to_row(reservation: Reservation) -> dict[str, object]:
    return {
        "key": reservation.key,
        "tenant_id": reservation.tenant_id,
        "agent_id": reservation.agent_id,
        "amount": reservation.amount,
        "status": reservation.status.value,
        "settled_amount": reservation.settled_amount,
        "allocations": [[a.grant_id, a.amount] for a in reservation.allocations],
        "reason": reservation.reason,
        "created_at": reservation.created_at,
        "resolved_at": reservation.resolved_at,
        "expires_at": reservation.expires_at,
    }


def reservation_to_domain(record: Row[Any]) -> Reservation:
    """Map a row selected from the `credit_reservations` table."""
    return Reservation(
        key=record.key,
        tenant_id=record.tenant_id,
        agent_id=record.agent_id,
        amount=record.amount,
        allocations=[
            Allocation(str(grant_id), int(amount)) for grant_id, amount in record.allocations
        ],
        created_at=record.created_at,
        status=ReservationStatus(record.status),
        settled_amount=record.settled_amount,
        resolved_at=record.resolved_at,
        reason=record.reason,
        expires_at=record.expires_at,
    )
